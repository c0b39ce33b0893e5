"""run_study with a real SQLite file: storing, resuming, failures, export."""

import json
import sqlite3

import pytest

from initopt.study import load, run_study
from initopt.study.export import to_csv, to_json
from initopt.study.runner import ProgressEvents
from initopt.study.store import SQLiteStore

EXPORT_COLUMNS = ["id", "init", "optimizer", "lr", "weight_decay", "seed", "status", "epochs_run", "train_loss", "val_loss", "val_metric"]


def test_run_stores_every_configuration_and_epoch(small_spec, tmp_path):
    db = tmp_path / "s.db"
    seen = {"steps": 0, "done": 0}
    events = ProgressEvents(steps=lambda n: seen.__setitem__("steps", seen["steps"] + n),
                            configs_done=lambda n: seen.__setitem__("done", seen["done"] + n))
    report = run_study(small_spec, db=db, events=events)
    assert report.trained == report.n_configs == 20 and report.skipped == 0
    assert seen["done"] == 20 and seen["steps"] == 20 * 3 * 12  # 364 training rows (91 held out), batch 32
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM epochs").fetchone()[0] == 20 * 3
        assert conn.execute("SELECT COUNT(*) FROM configs WHERE status = 'done'").fetchone()[0] == 20
    records = load(db, "small")
    assert list(records[0])[: len(EXPORT_COLUMNS)] == EXPORT_COLUMNS
    assert all(r["epochs_run"] == 3 and 0.5 < r["val_metric"] <= 1.0 for r in records)


def test_same_spec_again_skips_finished_configurations(small_spec, tmp_path):
    db = tmp_path / "s.db"
    run_study(small_spec, db=db)
    before = {r["id"]: r for r in load(db)}
    again = run_study(small_spec, db=db)
    assert again.trained == 0 and again.skipped == 20
    small_spec["grid"]["seeds"] = [0, 1, 2]  # a grown grid trains only what is new
    grown = run_study(small_spec, db=db)
    assert grown.trained == 10 and grown.skipped == 20
    after = {r["id"]: r for r in load(db)}
    assert all(after[i]["finished"] == before[i]["finished"] for i in before)


def test_a_different_workload_under_the_same_name_is_refused(small_spec, tmp_path):
    db = tmp_path / "s.db"
    run_study(small_spec, db=db)
    small_spec["train"]["epochs"] = 4
    with pytest.raises(ValueError, match="different workload"):
        run_study(small_spec, db=db)
    assert len(load(db)) == 20


def test_an_exception_inside_one_bundle_fails_its_configs_and_the_study_goes_on(small_spec, tmp_path, factory_module):
    factory_module("flaky_factory", """
        import torch
        from torch import nn

        CALLS = {"n": 0}

        class Flaky(nn.Module):
            def __init__(self, n, out):
                super().__init__()
                self.a = nn.Linear(n, 8)
                self.b = nn.Linear(8, out)

            def forward(self, x):
                CALLS["n"] += 1
                if CALLS["n"] == 6:  # one forward pass, in whichever bundle runs it, fails
                    raise RuntimeError("boom in forward")
                return self.b(torch.relu(self.a(x)))

        def build(n_features, out):
            return Flaky(n_features, out)
    """)
    small_spec["workload"] = {"dataset": "breast-cancer", "model": "flaky_factory:build"}
    small_spec["grid"]["optimizer"] = [{"name": "adam", "lr": [1e-3, 1e-2]}]
    report = run_study(small_spec, db=tmp_path / "f.db", max_bundle=4)
    assert report.trained == 8
    rows = load(tmp_path / "f.db")
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 4 and all("boom in forward" in r["error"] for r in failed)
    assert sum(r["status"] == "done" for r in rows) == 4


def test_models_that_cannot_be_batched_fall_back_with_a_notice(small_spec, tmp_path, factory_module):
    factory_module("counting_factory", """
        import torch
        from torch import nn

        class Counting(nn.Module):
            \"\"\"A layer no bundled layer takes, with a buffer it updates: nothing can batch it.\"\"\"

            def __init__(self, n):
                super().__init__()
                self.scale = nn.Parameter(torch.ones(n))
                self.register_buffer("seen", torch.zeros(()))

            def forward(self, x):
                self.seen += 1
                return x * self.scale

        def build(n_features, out):
            return nn.Sequential(nn.Linear(n_features, 8), Counting(8), nn.ReLU(), nn.Linear(8, out))
    """)
    small_spec["workload"] = {"dataset": "breast-cancer", "model": "counting_factory:build"}
    small_spec["grid"]["optimizer"] = [{"name": "sgd", "lr": [0.01]}]
    notices = []
    report = run_study(small_spec, db=tmp_path / "c.db", events=ProgressEvents(notice=notices.append))
    assert len(notices) == 1 and "one at a time" in notices[0] and report.notices == notices
    assert "layer 1 (Counting)" in notices[0]  # the notice names the layer
    assert all(r["status"] == "done" for r in load(tmp_path / "c.db"))


def test_a_layer_without_a_bundled_layer_goes_through_vmap_with_a_notice(small_spec, tmp_path, factory_module):
    factory_module("scaled_factory", """
        import torch
        from torch import nn

        class Scale(nn.Module):
            def __init__(self, n):
                super().__init__()
                self.scale = nn.Parameter(torch.ones(n))

            def forward(self, x):
                return x * self.scale

        def build(n_features, out):
            return nn.Sequential(nn.Linear(n_features, 8), Scale(8), nn.ReLU(), nn.Linear(8, out))
    """)
    small_spec["workload"] = {"dataset": "breast-cancer", "model": "scaled_factory:build"}
    small_spec["grid"]["optimizer"] = [{"name": "sgd", "lr": [0.01]}]
    notices = []
    report = run_study(small_spec, db=tmp_path / "s.db", events=ProgressEvents(notice=notices.append))
    assert len(notices) == 1 and "layer 1 (Scale" in notices[0] and "vmap" in notices[0]
    assert report.notices == notices
    assert all(r["status"] == "done" for r in load(tmp_path / "s.db"))


def test_bundled_and_sequential_engines_store_the_same_results(small_spec, tmp_path):
    run_study(small_spec, db=tmp_path / "b.db", engine="bundled")
    run_study(small_spec, db=tmp_path / "s.db", engine="sequential")
    bundled = {r["id"]: r for r in load(tmp_path / "b.db")}
    sequential = {r["id"]: r for r in load(tmp_path / "s.db")}
    assert bundled.keys() == sequential.keys()
    for cid, row in sequential.items():
        assert bundled[cid]["val_loss"] == pytest.approx(row["val_loss"], rel=1e-4)


def test_export_formats(small_spec, tmp_path):
    db = tmp_path / "s.db"
    run_study(small_spec, db=db)
    records = load(db, "small")
    csv_text = to_csv(records)
    assert csv_text.splitlines()[0].startswith(",".join(EXPORT_COLUMNS))
    assert len(csv_text.splitlines()) == 21
    parsed = json.loads(to_json(records))
    assert len(parsed) == 20 and set(EXPORT_COLUMNS) <= set(parsed[0])
    pd = pytest.importorskip("pandas")
    frame = load(db, "small", as_frame=True)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 20


def test_load_names_the_problem(tmp_path, small_spec):
    with pytest.raises(ValueError, match="no such database"):
        load(tmp_path / "missing.db")
    run_study(small_spec, db=tmp_path / "s.db")
    with pytest.raises(ValueError, match="smal"):
        load(tmp_path / "s.db", "smal")


def test_bundle_epochs_are_written_in_one_transaction_each(small_spec, tmp_path, monkeypatch):
    calls = []
    original = SQLiteStore.record_epochs

    def counting(self, study, rows, checkpoint=None):
        rows = list(rows)
        if rows:
            calls.append(len(rows))
        return original(self, study, rows, checkpoint)

    monkeypatch.setattr(SQLiteStore, "record_epochs", counting)
    run_study(small_spec, db=tmp_path / "s.db")
    assert len(calls) == 3  # 3 epochs x 1 bundle (its sgd and adam segments step together)
    assert sum(calls) == 60


def test_loss_and_metric_are_checked_against_the_task(small_spec, tmp_path):
    small_spec["workload"]["dataset"] = "digits"
    for train, field in (({"loss": "mse"}, "train.loss"), ({"loss": "bce"}, "train.loss"), ({"metric": "acuracy"}, "train.metric")):
        small_spec["train"] = {"epochs": 1, **train}
        with pytest.raises(ValueError, match=field):
            run_study(small_spec, db=tmp_path / "x.db")
    assert not (tmp_path / "x.db").exists()  # nothing is stored before the spec is sound


def test_metric_and_loss_names_are_canonical(small_spec, tmp_path):
    small_spec["train"].update(loss="BCE", metric="ACC")
    run_study(small_spec, db=tmp_path / "a.db")
    small_spec["train"].update(loss="bce", metric="accuracy")
    again = run_study(small_spec, db=tmp_path / "a.db")
    assert again.skipped == 20  # the same configurations
    assert all(0.5 < r["val_metric"] <= 1 for r in load(tmp_path / "a.db"))


def test_binary_crossentropy_gets_a_sigmoid_head_and_the_engines_agree(small_spec, tmp_path):
    small_spec["train"].update(loss="binary_crossentropy", epochs=6)
    small_spec["grid"]["optimizer"] = [{"name": "adam", "lr": [1e-3]}]
    run_study(small_spec, db=tmp_path / "b.db")
    run_study(small_spec, db=tmp_path / "s.db", engine="sequential")
    bundled = {r["id"]: r for r in load(tmp_path / "b.db")}
    for row in load(tmp_path / "s.db"):
        assert row["val_metric"] > 0.7  # it learns (the majority class is 0.63): the sigmoid is there
        assert bundled[row["id"]]["val_loss"] == pytest.approx(row["val_loss"], rel=1e-4)


def test_adamw_at_lr_zero_leaves_its_weights_and_the_bundle_trains(small_spec, tmp_path):
    small_spec["grid"]["optimizer"] = [{"name": "adamw", "lr": [0.0, 1e-3]}]
    run_study(small_spec, db=tmp_path / "z.db")
    rows = load(tmp_path / "z.db")
    assert {r["status"] for r in rows} == {"done"}
    with SQLiteStore(tmp_path / "z.db") as store:
        losses = {r.config_id: r.train_loss for r in store.epochs("small") if r.epoch in (1, 3)}
    assert len(losses) == len(rows)


def test_bad_device_is_refused_before_anything_is_stored(small_spec, tmp_path):
    for device in ("tpu", "cuda:7" if not __import__("torch").cuda.is_available() else "tpu"):
        with pytest.raises(ValueError, match="--device"):
            run_study(small_spec, db=tmp_path / "d.db", device=device)
    assert not (tmp_path / "d.db").exists()


def test_retry_failed_runs_failed_configurations_again(small_spec, tmp_path, factory_module):
    factory_module("once_factory", """
        import os
        import torch
        from torch import nn

        class Breakable(nn.Module):
            def __init__(self, n, out):
                super().__init__()
                self.lin = nn.Linear(n, out)

            def forward(self, x):
                if os.environ.get("INITOPT_TEST_BREAK") and torch.is_grad_enabled():  # training, not the spec check
                    raise RuntimeError("broken on purpose")
                return self.lin(x)

        def build(n_features, out):
            return Breakable(n_features, out)
    """)
    small_spec["workload"] = {"dataset": "breast-cancer", "model": "once_factory:build"}
    small_spec["grid"]["optimizer"] = [{"name": "sgd", "lr": [0.01]}]
    import os

    os.environ["INITOPT_TEST_BREAK"] = "1"
    try:
        first = run_study(small_spec, db=tmp_path / "r.db")
    finally:
        del os.environ["INITOPT_TEST_BREAK"]
    assert first.counts == {"failed": 4} and "broken on purpose" in first.first_error
    assert run_study(small_spec, db=tmp_path / "r.db").trained == 0
    retried = run_study(small_spec, db=tmp_path / "r.db", retry_failed=True)
    assert retried.trained == 4 and retried.counts == {"done": 4}


def test_user_factories_with_frozen_or_unused_parameters_match_fit(small_spec, tmp_path, factory_module):
    factory_module("odd_factory", """
        import torch
        from torch import nn

        class Odd(nn.Module):
            def __init__(self, n, out, frozen):
                super().__init__()
                self.a = nn.Linear(n, 8)
                self.b = nn.Linear(8, out)
                self.unused = nn.Linear(3, 3)
                self.a.bias.requires_grad_(not frozen)

            def forward(self, x):
                return self.b(torch.relu(self.a(x)))

        def unused(n_features, out):
            return Odd(n_features, out, frozen=False)

        def frozen(n_features, out):
            return Odd(n_features, out, frozen=True)
    """)
    small_spec["grid"]["optimizer"] = [{"name": "adam", "lr": [1e-2]}]
    for factory in ("unused", "frozen"):
        small_spec["workload"] = {"dataset": "breast-cancer", "model": f"odd_factory:{factory}"}
        run_study(small_spec, db=tmp_path / f"{factory}-b.db")
        run_study(small_spec, db=tmp_path / f"{factory}-s.db", engine="sequential")
        bundled = {r["id"]: r for r in load(tmp_path / f"{factory}-b.db")}
        for row in load(tmp_path / f"{factory}-s.db"):
            assert bundled[row["id"]]["status"] == row["status"] == "done"
            assert bundled[row["id"]]["val_loss"] == pytest.approx(row["val_loss"], rel=1e-4)


def test_bundle_memory_counts_every_activation_of_the_model(small_spec, factory_module):
    """A convolution's outputs count as a Linear layer's do: the estimate grows with them."""
    from initopt.study import parse_spec
    from initopt.study.runner import _bytes_per_config
    from initopt.study.workload import prepare

    factory_module("wide_conv", """
        from torch import nn

        def build(n_features, out, channels=8):
            return nn.Sequential(nn.Unflatten(1, (1, n_features)), nn.Conv1d(1, channels, 3, padding=1), nn.ReLU(),
                                 nn.Flatten(), nn.Linear(channels * n_features, out))
    """)
    estimates = {}
    for channels in (8, 64):
        small_spec["workload"] = {"dataset": "breast-cancer", "model": "wide_conv:build", "channels": channels}
        estimates[channels] = _bytes_per_config(prepare(parse_spec(small_spec)))
    # 30 features: per example 3 x 30 x channels floats of activations besides the input and output
    extra_activations = 3 * 30 * (64 - 8) * 1024 * 2 * 4  # x the evaluation chunk, forward and backward, float32
    assert estimates[64] - estimates[8] >= extra_activations
