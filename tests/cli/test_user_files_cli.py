"""Your own files and models, as users run them: a spec beside its data and its model package, run from
another directory; a factory's options as written; one factory call per configuration (plus the
study's probe); ``initopt train --model pkg.mod:fn``; ``study export --epochs``. Real subprocesses."""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import textwrap
from pathlib import Path

import pytest

EPOCHS = 2
#: 2 inits x 2 lr x 2 seeds
N_CONFIGS = 8

FACTORY = '''
from pathlib import Path

from torch import nn

CALLS = Path(__file__).resolve().parents[1] / "calls.txt"


def make(n_features, out, hidden: int = 8):
    """A user's factory that takes ``hidden`` as an int, as its signature says, and counts its calls."""
    if not isinstance(hidden, int):
        raise TypeError(f"hidden must be an int, got {hidden!r}")
    with CALLS.open("a") as f:
        f.write("call\\n")
    return nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, out))
'''


def spec_text(dataset: str = "csv:data/x.csv:label", model: str = "mypkg.models:make") -> str:
    return textwrap.dedent(f"""\
        name = "own-files"
        [workload]
        dataset = "{dataset}"
        model = "{model}"
        hidden = 6
        [train]
        epochs = {EPOCHS}
        batch_size = 32
        [grid]
        init = ["he_normal", "xavier_uniform"]
        seeds = [0, 1]
        [[grid.optimizer]]
        name = "adam"
        lr = [1e-3, 1e-2]
        """)


def write_rows(path: Path, n: int = 120) -> None:
    rng = random.Random(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        f.write("a,b,c,label\n")
        for _ in range(n):
            a, b, c = (rng.gauss(0, 1) for _ in range(3))
            f.write(f"{a:.4f},{b:.4f},{c:.4f},{int(a * b > 0)}\n")


@pytest.fixture
def project(tmp_path) -> Path:
    """``project/``: study.toml, data/x.csv and the package mypkg (models.py: ``make``); a sibling
    ``elsewhere/`` to run from, where none of the spec's relative paths exist."""
    root = tmp_path / "project"
    (root / "mypkg").mkdir(parents=True)
    (root / "mypkg" / "__init__.py").write_text("")
    (root / "mypkg" / "models.py").write_text(FACTORY)
    write_rows(root / "data" / "x.csv")
    (root / "study.toml").write_text(spec_text())
    (tmp_path / "elsewhere").mkdir()
    return root


@pytest.fixture
def run(initopt_command, cli_environment):
    """``initopt ARGS`` in a real subprocess, in ``cwd``."""

    def call(cwd: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*initopt_command, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                              env=cli_environment)

    return call


def calls(project: Path) -> int:
    path = project / "calls.txt"
    count = len(path.read_text().splitlines()) if path.exists() else 0
    path.unlink(missing_ok=True)
    return count


def exported(run, cwd: Path, db: Path, *flags: str) -> list[dict]:
    result = run(cwd, "study", "export", "--db", str(db), "--format", "json", *flags)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_a_spec_runs_from_any_directory_with_one_factory_call_per_configuration(project, run, tmp_path):
    """The same spec, run from a sibling folder (bundled) and from its own (sequential): the factory gets
    ``hidden = 6`` as the int it expects, is called N + 1 times in each, both name the same ids, and
    ``study export --epochs`` gives a row per configuration and epoch."""
    elsewhere = tmp_path / "elsewhere"
    curves = {}
    for engine, cwd, spec in (("bundled", elsewhere, "../project/study.toml"), ("sequential", project, "study.toml")):
        db = tmp_path / f"{engine}.db"
        result = run(cwd, "study", "run", spec, "--db", str(db), "--engine", engine,
                     "--report", str(tmp_path / f"{engine}.html"))
        assert result.returncode == 0, result.stderr
        assert f"{N_CONFIGS} done" in result.stdout, result.stdout
        assert calls(project) == N_CONFIGS + 1, engine  # one per configuration, one probe for the study
        curves[engine] = exported(run, cwd, db, "--epochs")
    rows = curves["bundled"]
    assert len(rows) == N_CONFIGS * EPOCHS
    expected = ["id", "init", "optimizer", "lr", "weight_decay", "momentum", "seed", "epoch", "train_loss",
                "train_metric", "val_loss", "val_metric", "seconds"]
    assert list(rows[0])[: len(expected)] == expected
    ids = {engine: {(row["id"], row["epoch"]) for row in rows} for engine, rows in curves.items()}
    assert len({i for i, _ in ids["bundled"]}) == N_CONFIGS and ids["bundled"] == ids["sequential"]
    out = tmp_path / "epochs.csv"
    result = run(tmp_path, "study", "export", "--db", str(tmp_path / "bundled.db"), "--epochs", "--out", str(out))
    assert result.returncode == 0 and f"{N_CONFIGS * EPOCHS} epoch rows written" in result.stdout, result.stderr
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(table) == N_CONFIGS * EPOCHS and table[0]["epoch"] == "1" and table[0]["init"] == "he_normal"


def test_train_takes_a_user_factory_and_its_options(project, run):
    result = run(project, "train", "--dataset", "csv:data/x.csv:label", "--model", "mypkg.models:make",
                 "--model-option", "hidden=5", "--epochs", "1", "--verbose", "2")
    assert result.returncode == 0, result.stderr
    assert "mypkg.models:make" in result.stdout and "Epoch 1/1" in result.stdout
    assert calls(project) == 1
    result = run(project, "train", "--dataset", "csv:data/x.csv:label", "--model", "mypkg.models:make",
                 "--hidden", "5", "--epochs", "1", "--verbose", "0")  # --hidden is hidden=: the int, for a factory
    assert result.returncode == 0, result.stderr


def test_train_gives_built_ins_their_options_as_a_spec_does(run, tmp_path):
    result = run(tmp_path, "train", "--dataset", "digits", "--model", "deep-mlp", "--model-option", "depth=2",
                 "--model-option", "width=8", "--activation", "tanh", "--epochs", "1", "--verbose", "2")
    assert result.returncode == 0, result.stderr
    result = run(tmp_path, "train", "--model", "cnn2d", "--dataset", "digits", "--hidden", "4", "--epochs", "1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "initopt: error: --hidden: model 'cnn2d' does not take option 'hidden' (it takes: channels, depth, "
        "batchnorm, activation, image_shape)"]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (dict(model="mypkg.nope:make"), "workload.model: model factory 'mypkg.nope:make': cannot import 'mypkg.nope'"),
        (dict(dataset="csv:data/y.csv:label"), "workload.dataset: {project}/data/y.csv: no such file; did you mean"),
    ],
    ids=["missing-module", "missing-relative-file"],
)
def test_bad_spec_paths_are_one_line_and_exit_2(project, run, tmp_path, spec, fragment):
    """Read against the spec's folder, not the working directory: data/y.csv beside the working
    directory does not count."""
    write_rows(tmp_path / "elsewhere" / "data" / "y.csv")
    (project / "bad.toml").write_text(spec_text(**spec))
    result = run(tmp_path / "elsewhere", "study", "run", "../project/bad.toml", "--db", "bad.db",
                 "--report", "bad.html")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment.format(project=project.resolve()) in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "elsewhere" / "bad.db").exists()


def test_train_with_a_missing_factory_module_is_one_line_and_exit_2(run, tmp_path):
    result = run(tmp_path, "train", "--model", "nowhere.models:make", "--epochs", "1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "initopt: error: --model: model factory 'nowhere.models:make': cannot import 'nowhere.models': "
        "No module named 'nowhere'"]
