"""Validation, not test, decides, through the command line: a study ranks on its validation split and
shows the test split beside it; `initopt train` reports both; a database written before validation
splits resumes and says it was ranked on the test split (tests/study/test_validation.py)."""

from __future__ import annotations

import csv
import io
import re

SPEC = """
name = "v"
[workload]
dataset = "breast-cancer"
hidden = [8]
[train]
epochs = 3
batch_size = 64
rank_by = "best"
[grid]
init = ["he_normal"]
seeds = [0, 1]
[[grid.optimizer]]
name = "adamw"
lr = [0.001, 0.01]
"""


def test_a_study_ranks_on_validation_and_shows_test_beside_it(cli, tmp_path):
    (tmp_path / "v.toml").write_text(SPEC)
    run = cli("study", "run", "v.toml", "--db", "v.db", columns=120)
    assert run.returncode == 0, run.stderr
    assert "best-epoch val accuracy at the best lr" in run.stdout and "test accuracy" in run.stdout
    report = cli("study", "report", "--db", "v.db", "--format", "markdown", "--out", "r.md", columns=120)
    assert report.returncode == 0, report.stderr
    assert "Test accuracy, on data that chose nothing" in " ".join(report.stdout.split())
    exported = cli("study", "export", "--db", "v.db", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 4 and all(row["test_metric"] and row["val_metric"] for row in rows)
    # a bad setting: one line naming the field, exit 2
    bad = cli("study", "run", "v.toml", "--db", "v.db", "--validation", "1.5")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "--validation" in bad.stderr


def test_train_holds_out_validation_rows_and_reports_the_test_split_apart(cli):
    result = cli("train", "--dataset", "digits", "--epochs", "2", "--validation", "0.25", "--verbose", "2")
    assert result.returncode == 0, result.stderr
    assert "digits: 1077 train / 360 validation / 360 test" in result.stdout
    assert re.search(r"^Validation: loss \d\.\d{4} - accuracy \d\.\d{4}$", result.stdout, re.M)
    assert re.search(r"^Test: loss \d\.\d{4} - accuracy \d\.\d{4}", result.stdout, re.M)
