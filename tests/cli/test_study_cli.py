"""``initopt study ...`` through real subprocesses."""

import csv
import io
import json
import re

import pytest

SPEC = """
name = "cli-small"
[workload]
dataset = "breast-cancer"
hidden = [8]
[train]
epochs = 2
[grid]
init = ["he_normal", {name = "gaussian", std = 0.01}]
seeds = [0, 1]
[[grid.optimizer]]
name = "sgd"
lr = [0.01, 0.1]
[[grid.optimizer]]
name = "adamw"
lr = [0.001]
"""


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SPEC)
    return path


def test_run_list_show_export(cli, spec_file, tmp_path):
    run = cli("study", "run", str(spec_file), "--db", "s.db")
    assert run.returncode == 0, run.stderr
    assert "cli-small" in run.stdout and str(tmp_path / "s.db") in run.stdout
    assert re.search(r"he_normal.*sgd", run.stdout) and "best lr" in run.stdout
    assert "12/12" in run.stderr  # the progress bar counted every configuration
    assert f"Report: {tmp_path / 'cli-small-report.html'}" in run.stdout
    assert "<!DOCTYPE html>" in (tmp_path / "cli-small-report.html").read_text()[:200]

    report = cli("study", "report", "--db", "s.db", "--format", "markdown", "--out", "r/report.md")
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "r" / "report.md").is_file()

    listing = cli("study", "list", "--db", "s.db")
    assert listing.returncode == 0 and "cli-small" in listing.stdout and "12" in listing.stdout
    show = cli("study", "show", "cli-small", "--db", "s.db")
    assert show.returncode == 0 and "adamw" in show.stdout

    exported = cli("study", "export", "--db", "s.db", "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 12 and {r["status"] for r in rows} == {"done"}
    assert list(rows[0])[:11] == ["id", "init", "optimizer", "lr", "weight_decay", "seed", "status", "epochs_run", "train_loss", "val_loss", "val_metric"]
    as_json = cli("study", "export", "--db", "s.db", "--study", "cli-small", "--format", "json", "--out", "out.json")
    assert as_json.returncode == 0
    assert len(json.loads((tmp_path / "out.json").read_text())) == 12

    again = cli("study", "run", str(spec_file), "--db", "s.db", "--engine", "sequential")
    assert again.returncode == 0 and "12 of 12 configurations were already finished" in again.stdout


def test_sequential_engine_runs(cli, spec_file):
    result = cli("study", "run", str(spec_file), "--db", "seq.db", "--engine", "sequential", "--max-bundle", "2")
    assert result.returncode == 0, result.stderr
    assert "sequential engine" in result.stdout


def test_default_study_runs_without_a_spec(cli):
    """The README's main job: 240 configurations, progress, a ranked table and the db path."""
    result = cli("study", "run", timeout=600)
    assert result.returncode == 0, result.stderr
    assert "240 configurations run" in result.stdout and "240 done" in result.stdout and "initopt.db" in result.stdout
    table = result.stdout
    for init in ("zeros", "he_normal", "xavier_normal"):
        assert init in table
    assert "momentum=0.9" in table


@pytest.mark.parametrize(
    "spec_text, needle",
    [
        ("name = 'x'\n[workload]\ndataset = 'seed-binary'\n[grid]\ninit = []\n[[grid.optimizer]]\nname = 'sgd'\n", "grid.init"),
        ("name = 'x'\n[workload]\ndataset = 'digts'\n[grid]\ninit = ['zeros']\n[[grid.optimizer]]\nname = 'sgd'\n", "digits"),
        ("name = 'x'\n[workload]\ndataset = 'seed-binary'\n[train]\nepochs = -2\n[grid]\ninit = ['zeros']\n[[grid.optimizer]]\nname = 'sgd'\n", "train.epochs"),
        ("name = 'x'\n[workload]\ndataset = 'seed-binary'\nmodel = 'nosuchpkg.mod:build'\n[grid]\ninit = ['zeros']\n[[grid.optimizer]]\nname = 'sgd'\n", "workload.model"),
        ("name = 'x'\n[workload]\ndataset = 'seed-binary'\n[grid]\ninit = ['zeros']\n[[grid.optimizer]]\nname = 'sgdd'\n", "grid.optimizer[0].name"),
        ("name = [", "not valid TOML"),
    ],
)
def test_bad_specs_are_one_line_exit_2(cli, tmp_path, spec_text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(spec_text)
    result = cli("study", "run", str(path), "--db", "bad.db")
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["study", "run", "missing.toml"], "missing.toml"),
        (["study", "run", "--engine", "turbo"], "--engine"),
        (["study", "show", "nope", "--db", "none.db"], "none.db"),
        (["study", "export", "--db", "none.db"], "none.db"),
        (["study", "export", "--format", "xml"], "--format"),
    ],
)
def test_bad_study_arguments(cli, args, needle):
    result = cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.stderr
