"""A bundle interrupted after an epoch goes on from its checkpoint and ends with results identical to
an uninterrupted run: parameters, optimizer state, data order, dropout and BatchNorm statistics all
restored (in-process here; tests/cli/test_interrupt_cli.py sends real signals to real processes)."""

from __future__ import annotations

import copy

import pytest

from initopt.study.runner import ProgressEvents, StudyInterrupted, run_study
from initopt.study.store import SQLiteStore, Status

GRID = {"init": ["he_normal", "xavier_uniform"], "seeds": [0, 1],
        "optimizer": [{"name": "adamw", "lr": [3e-3]}, {"name": "sgd", "lr": [0.05], "momentum": [0.9]}]}
WORKLOADS = {
    "mlp": ({"dataset": "breast-cancer", "model": "mlp", "hidden": [16]}, 32),
    "cnn2d-batchnorm": ({"dataset": "digits-images", "model": "cnn2d", "channels": 4, "depth": 1, "batchnorm": True}, 128),
    "transformer-dropout": ({"dataset": "modular-addition", "model": "transformer", "d_model": 16, "layers": 1,
                             "heads": 2, "dropout": 0.1, "data": {"p": 7, "train_fraction": 0.6}}, 8),
}


def spec(workload: dict, batch_size: int) -> dict:
    return {"name": "resume", "workload": copy.deepcopy(workload), "train": {"epochs": 4, "batch_size": batch_size},
            "grid": copy.deepcopy(GRID)}


def stop_after(epochs: int, steps_per_epoch: int) -> ProgressEvents:
    """Events that press Ctrl-C once ``epochs`` epochs of the bundle have been reported."""
    seen = {"steps": 0}

    def steps(n: int) -> None:
        seen["steps"] += n
        if seen["steps"] >= epochs * steps_per_epoch * 8:
            raise KeyboardInterrupt

    return ProgressEvents(steps=steps)


def epochs_of(db) -> dict:
    with SQLiteStore(db) as store:
        return {(e.config_id, e.epoch): e for e in store.epochs("resume")}


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_an_interrupted_bundle_resumes_from_its_checkpoint_with_identical_results(tmp_path, name, monkeypatch):
    from initopt.study.workload import prepare
    from initopt.study import parse_spec

    raw = spec(*WORKLOADS[name])
    whole = run_study(raw, db=tmp_path / "whole.db")
    assert whole.trained == 8
    steps_per_epoch = prepare(parse_spec(raw)).steps_per_epoch

    db = tmp_path / "cut.db"
    with pytest.raises(StudyInterrupted) as caught:
        run_study(raw, db=db, events=stop_after(2, steps_per_epoch), checkpoint_seconds=0)
    [checkpoint] = caught.value.checkpoints
    assert checkpoint.epoch == 2 and len(checkpoint.config_ids) == 8
    with SQLiteStore(db) as store:
        assert {row.status for row in store.configs("resume")} == {Status.RUNNING}
        assert store.held_elsewhere("resume") == {}  # the claims were released

    notices = []
    again = run_study(raw, db=db, events=ProgressEvents(notice=notices.append))
    assert again.trained == 8 and any("resuming a bundle of 8 configurations after epoch 2 of 4" in n for n in notices)
    expected, got = epochs_of(tmp_path / "whole.db"), epochs_of(db)
    assert got.keys() == expected.keys()
    for key, row in expected.items():  # bit for bit: the same state, the same arithmetic
        assert (got[key].train_loss, got[key].val_loss, got[key].test_loss) == (row.train_loss, row.val_loss, row.test_loss)
    with SQLiteStore(db) as store:
        assert store.checkpoints("resume") == []  # dropped once the bundle finished


def test_a_checkpoint_that_does_not_fit_is_dropped_and_its_bundle_starts_over(tmp_path):
    """A checkpoint of another format (or device, or a model edited since) and one larger than
    --max-bundle now: the configurations start over, with a notice, to the uninterrupted results."""
    import sqlite3

    from initopt.study import parse_spec
    from initopt.study.workload import prepare

    raw = spec(*WORKLOADS["mlp"])
    run_study(raw, db=tmp_path / "whole.db")
    steps_per_epoch = prepare(parse_spec(raw)).steps_per_epoch
    for case in ("garbled", "too-large"):
        db = tmp_path / f"{case}.db"
        with pytest.raises(StudyInterrupted):
            run_study(raw, db=db, events=stop_after(2, steps_per_epoch), checkpoint_seconds=0)
        if case == "garbled":
            with sqlite3.connect(db) as conn:
                conn.execute("UPDATE checkpoints SET state = ?", (b"not a checkpoint",))
            conn.close()
        notices = []
        again = run_study(raw, db=db, events=ProgressEvents(notice=notices.append),
                          max_bundle=4 if case == "too-large" else None)
        assert again.trained == 8
        if case == "garbled":
            assert any("does not fit this bundle" in n for n in notices), notices
        else:
            assert not any("resuming" in n for n in notices), notices
        got, expected = epochs_of(db), epochs_of(tmp_path / "whole.db")
        assert got.keys() == expected.keys()
        if case == "garbled":  # trained from the start as one bundle: the uninterrupted numbers
            assert all((got[k].train_loss, got[k].val_loss) == (e.train_loss, e.val_loss) for k, e in expected.items())
        with SQLiteStore(db) as store:
            assert store.checkpoints("resume") == []
