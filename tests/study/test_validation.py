"""Validation, not test, decides: a validation split held out of the training rows, the test split
evaluated beside it and reported, never ranked on; databases written before keep their meaning."""

from __future__ import annotations

import copy
import math
from dataclasses import replace
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from initopt import data
from initopt.report import load_report
from initopt.report.data import load_study
from initopt.study import SpecError, load_spec, parse_spec
from initopt.study.runner import run_study
from initopt.study.store import SQLiteStore

DATA = Path(__file__).parent / "data"

SPEC = {
    "name": "val",
    "workload": {"dataset": "breast-cancer", "model": "mlp", "hidden": [8]},
    "train": {"epochs": 3, "batch_size": 64},
    "grid": {"init": ["he_normal"], "seeds": [0, 1], "optimizer": [{"name": "adamw", "lr": [1e-3, 1e-2]}]},
}


def spec(**train) -> dict:
    raw = copy.deepcopy(SPEC)
    raw["train"].update(train)
    return raw


# --- the split ----------------------------------------------------------------------------------


def test_the_validation_split_is_held_out_of_training_stratified_and_fixed():
    train, test = data.load("digits")
    kept, val, test2 = data.load_validated("digits", 0.2)
    assert len(kept) + len(val) == len(train) and len(val) == math.ceil(0.2 * len(train))
    assert test2.x.shape == test.x.shape and val.part == "val" and kept.info.n_val == len(val)
    # stratified: every class keeps its share (within one row)
    all_counts = np.bincount(train.y.numpy(), minlength=10)
    val_counts = np.bincount(val.y.numpy(), minlength=10)
    assert np.all(np.abs(val_counts - 0.2 * all_counts) <= 1)
    # the training rows standardize the inputs: the kept rows have mean 0 per feature
    assert kept.x.mean(0).abs().max() < 1e-4
    again = data.load_validated("digits", 0.2)
    assert again.val.y.equal(val.y)  # the same rows on every call (fixed seed)
    assert data.load_validated("digits", 0).val is None


def test_sequences_hold_out_their_tail_and_regression_a_random_share(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    train, _ = data.load(f"text:{path}", context=8)
    kept, val, _ = data.load_validated(f"text:{path}", 0.25, context=8)
    assert kept.x.equal(train.x[: len(kept)]) and val.x.equal(train.x[len(kept):])  # by position
    kept, val, _ = data.load_validated("synthetic-ratings", 0.1)
    assert len(val) == math.ceil(0.1 * (len(kept) + len(val)))


def test_the_users_own_validation_file(tmp_path):
    rows = ["a,b,label"] + [f"{i},{i % 3},{'yes' if i % 2 else 'no'}" for i in range(40)]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "val.csv").write_text("a,b,label\n1,2,no\n3,4,yes\n5,6,yes\n")
    name = f"csv:{tmp_path / 'train.csv'}:label"
    train, val, _ = data.load_validated(name, str(tmp_path / "val.csv"))
    assert len(train) == len(data.load(name).train)  # nothing held out of training
    assert val.y.tolist() == [0.0, 1.0, 1.0]  # classes by label, as the training file encodes them
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,maybe\n3,4,yes\n")
    with pytest.raises(data.DataError, match=r"bad\.csv, row 1: label 'maybe' is not a class"):
        data.load_validated(name, str(tmp_path / "bad.csv"))
    (tmp_path / "cols.csv").write_text("b,a,label\n1,2,no\n3,4,yes\n")
    with pytest.raises(data.DataError, match=r"cols\.csv: columns 'b', 'a', 'label' differ"):
        data.load_validated(name, str(tmp_path / "cols.csv"))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(30, 4)), y=np.arange(30) % 2, x_val=rng.normal(size=(6, 4)),
             y_val=np.arange(6) % 2)
    _, val, _ = data.load_validated(str(tmp_path / "d.npz"), "npz")
    assert len(val) == 6


@pytest.mark.parametrize("value, message", [(1.5, "fraction in \\[0, 1\\)"), (-0.1, "fraction"), (True, "fraction")])
def test_a_bad_validation_setting_names_the_field(value, message):
    with pytest.raises(SpecError, match=f"train.validation: .*{message}"):
        parse_spec(spec(validation=value))
    with pytest.raises(SpecError, match="train.rank_by: expected one of final, best"):
        parse_spec(spec(rank_by="last"))


def test_a_validation_file_for_a_builtin_dataset_is_refused_with_its_field(tmp_path):
    from initopt.study.workload import prepare

    with pytest.raises(SpecError, match="train.validation: val.csv: no such file"):
        prepare(parse_spec(spec(validation="val.csv")))
    (tmp_path / "val.csv").write_text("a,label\n1,0\n2,1\n")
    with pytest.raises(SpecError, match="train.validation: .*CSV and .npz datasets"):
        prepare(parse_spec(spec(validation=str(tmp_path / "val.csv"))))


# --- studies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["bundled", "sequential"])
def test_a_study_ranks_on_validation_and_reports_test_beside_it(tmp_path, engine):
    db = tmp_path / "v.db"
    run_study(spec(), db=db, engine=engine)
    with SQLiteStore(db) as store:
        rows = store.configs("val")
        epochs = store.epochs("val")
    assert all(math.isfinite(r.test_metric) and math.isfinite(r.val_metric) for r in rows)
    assert len(epochs) == 4 * 3 and all(math.isfinite(e.test_loss) for e in epochs)
    # two different splits: their losses differ (114 test rows, 91 validation rows)
    assert any(abs(e.test_loss - e.val_loss) > 1e-6 for e in epochs)
    report = load_report(db)
    assert report.study.selects_on == "validation" and report.metric_title.startswith("final validation accuracy")
    best = report.candidates[0]
    assert best.test_values and "Test accuracy, on data that chose nothing" in report.recommendation.verdict


def test_the_engines_agree_on_validation_and_test(tmp_path):
    run_study(spec(), db=tmp_path / "b.db")
    run_study(spec(), db=tmp_path / "s.db", engine="sequential")
    with SQLiteStore(tmp_path / "b.db") as b, SQLiteStore(tmp_path / "s.db") as s:
        bundled = {(e.config_id, e.epoch): e for e in b.epochs("val")}
        for e in s.epochs("val"):
            other = bundled[(e.config_id, e.epoch)]
            assert other.val_loss == pytest.approx(e.val_loss, rel=1e-4)
            assert other.test_loss == pytest.approx(e.test_loss, rel=1e-4)


def test_rank_by_best_takes_each_configurations_best_validation_epoch_and_its_test_value(tmp_path):
    db = tmp_path / "best.db"
    run_study(spec(rank_by="best", epochs=4), db=db)
    report = load_report(db)
    assert report.metric_title.startswith("best-epoch validation accuracy")
    study = report.study
    for row in study.configs:
        epochs = study.epochs[row.id]
        best = max(epochs, key=lambda e: (e.val_metric, -e.epoch))
        assert study.selected_epoch[row.id] == best.epoch
        assert row.val_metric == best.val_metric and row.test_metric == best.test_metric
    # rank_by is not part of the configurations: the same database, ranked by the final epoch, trains nothing
    again = run_study(spec(rank_by="final", epochs=4), db=db)
    assert again.trained == 0


def test_a_database_written_before_validation_splits_resumes_and_says_it_selected_on_test(tmp_path):
    db = tmp_path / "legacy.db"
    with sqlite3.connect(db) as conn:
        conn.executescript((DATA / "legacy_v1_study.sql").read_text())
    conn.close()
    report = run_study(DATA / "legacy_spec.toml", db=db)
    assert (report.skipped, report.trained) == (2, 2)  # the same configurations: resumed, not restarted
    loaded = load_report(db)
    assert loaded.study.selects_on == "test" and loaded.metric_title.startswith("final test accuracy")
    assert "no validation split" in loaded.recommendation.verdict
    assert all(c.test_values == c.values for c in loaded.candidates)  # the test split is the one it ranked on
    from rich.console import Console

    from initopt.cli.render import summary_table

    console = Console(width=120, record=True)
    console.print(summary_table(load_study(db, "legacy")))
    shown = console.export_text()
    assert "test accuracy at the best lr" in shown and "ranked on the test split" in shown
    # a new study in the same file gets a validation split
    fresh = run_study({**copy.deepcopy(SPEC), "name": "fresh"}, db=db)
    assert fresh.trained == 4 and load_report(db, "fresh").study.selects_on == "validation"


def test_a_database_of_the_release_before_no_decay_resumes_with_every_parameter_decaying(tmp_path):
    """A study written before ``train.no_decay`` (its file made by that release: every parameter decayed):
    the same spec run again finds its configurations under their ids, the new seed trains by the old
    rule, and the report says which rule the study used. A new study in the file gets the default."""
    db = tmp_path / "release.db"
    with sqlite3.connect(db) as conn:
        conn.executescript((DATA / "release_v2_study.sql").read_text())
    conn.close()
    before = {c.id: (c.val_metric, c.val_loss) for c in load_study(db, "release").configs}
    spec = load_spec(DATA / "release_spec.toml")
    spec = replace(spec, seeds=(0, 1))
    report = run_study(spec, db=db)
    assert (report.skipped, report.trained) == (2, 2)  # the two stored ones kept their ids
    after = load_study(db, "release")
    assert {c.id: (c.val_metric, c.val_loss) for c in after.configs if c.id in before} == before  # untouched
    assert after.spec["train"].get("no_decay", []) == []  # the rule it was measured under
    fresh = run_study(replace(spec, name="fresh"), db=db)
    assert fresh.trained == 4 and load_study(db, "fresh").spec["train"]["no_decay"] == ["bias", "norm"]
