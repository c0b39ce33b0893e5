"""The example specs of the new workloads (vision, language, recommenders, a user factory), run as users
run them: ``initopt study run`` on each, shrunk to one epoch and a few configurations, and ``initopt
doctor`` on each workload, through real subprocesses; bad data files in a spec, in process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from initopt.cli.main import run as initopt_main

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: (spec, the metric it is ranked by): the table's title and the report's ranking name it.
NEW_EXAMPLES = [
    ("digits_cnn2d.toml", "accuracy"),
    ("grokking.toml", "accuracy"),
    ("char_lm.toml", "perplexity"),
    ("ratings_mf.toml", "rmse"),
    ("mnist1d_paper_cnn.toml", "accuracy"),
    ("optimizers.toml", "perplexity"),
]


def shrunk(spec: str, folder: Path) -> Path:
    """The example with its workload kept and its grid cut to 2 configurations of 1 epoch: 2 inits (or
    2 learning rates where there is one init), the first value of every other list. A relative data
    path is made absolute (it resolves against the spec's folder, examples/, and the copy lies
    elsewhere). Written as YAML, which specs also are (the standard library has no TOML writer)."""
    raw = tomllib.loads((EXAMPLES / spec).read_text(encoding="utf-8"))
    raw["train"]["epochs"] = 1
    grid = raw["grid"]
    grid["seeds"] = [0]
    grid["init"] = grid["init"][:2]
    lrs = 2 if len(grid["init"]) == 1 else 1
    first = grid["optimizer"][0]
    grid["optimizer"] = [{k: v[:lrs] if k == "lr" else v[:1] if isinstance(v, list) else v for k, v in first.items()}]
    kind, _, path = raw["workload"]["dataset"].partition(":")
    if kind == "text":
        raw["workload"]["dataset"] = f"text:{EXAMPLES / path}"
    out = folder / spec.replace(".toml", ".yaml")
    out.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return out


def initopt(args: list[str], command: list[str], environment: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """``initopt ARGS`` with examples/ on Python's path, for the user factory ``paper_cnn:build``."""
    env = {**environment, "PYTHONPATH": str(EXAMPLES)}
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


@pytest.mark.slow
@pytest.mark.parametrize(("spec", "metric"), NEW_EXAMPLES, ids=[name for name, _ in NEW_EXAMPLES])
def test_example_spec_runs_ranks_and_reports(spec, metric, tmp_path, initopt_command, cli_environment):
    path = shrunk(spec, tmp_path)
    result = initopt(["study", "run", str(path), "--db", "study.db"], initopt_command, cli_environment, tmp_path)
    assert result.returncode == 0, result.stderr
    name = tomllib.loads((EXAMPLES / spec).read_text(encoding="utf-8"))["name"]
    out = result.stdout
    assert f"Study '{name}': val {metric}" in out and re.search(r"^ *1  ", out, re.M), out
    words = " ".join(out.split())  # the summary line wraps at 80 columns like any prose
    assert re.search(rf"Study '{name}': 2 configurations run in [\d.]+s \(bundled engine\); 2 done\.", words), out
    assert "Results: " in out and "failed" not in out, out
    report = (tmp_path / f"{name}-report.html").read_text(encoding="utf-8")
    better = "higher" if metric == "accuracy" else "lower"
    assert f"ranked by final validation {metric} ({better} is better)" in report


#: (arguments, what the table or the verdict must show): every new workload through the doctor.
DOCTOR_CASES = [
    pytest.param(["--spec", "digits_cnn2d.toml", "--init", "gaussian:std=0.01"],
                 ["features.1 BatchNorm2d 16, ReLU", "verdict: healthy"], id="vision-spec"),
    pytest.param(["--spec", "grokking.toml", "--data-option", "p=13", "--init", "gpt2"],
                 ["tok Embedding 14x64", "blocks.1.attn.proj Linear 64->64", "verdict: healthy"], id="language-spec"),
    pytest.param(["--dataset", "text:TEXT", "--model", "transformer", "--data-option", "context=16", "--init", "gpt2"],
                 ["pos Embedding 16x64", "head Linear 64->41", "verdict: healthy"], id="text"),
    pytest.param(["--dataset", "synthetic-ratings", "--model", "mf", "--init", "zeros"],
                 ["user Embedding 300x32", "verdict: symmetric", "use gpt2"], id="ratings-zeros"),
    pytest.param(["--spec", "mnist1d_paper_cnn.toml"], ["linear Linear 125->10", "verdict: healthy"], id="user-factory"),
]


@pytest.mark.parametrize(("args", "shown"), DOCTOR_CASES)
def test_doctor_on_each_new_workload(args, shown, tmp_path, initopt_command, cli_environment):
    args = [str(EXAMPLES / a) if a.endswith(".toml") else a.replace("TEXT", str(EXAMPLES / "data" / "harbour_town.txt"))
            for a in args]
    result = initopt(["doctor", "--batch-size", "64", *args], initopt_command, cli_environment, tmp_path)
    assert result.returncode == 0, result.stderr
    for text in shown:
        assert text in result.stdout, result.stdout


# -- bad data named by a spec: one line naming the file and the column, row or array; exit 2 (in process)
def _ragged_images(path: Path) -> None:
    ragged = np.empty(3, dtype=object)
    ragged[:] = [np.zeros((1, 8, 8)), np.zeros((1, 6, 6)), np.zeros((1, 8, 8))]
    np.savez(path, x=ragged, y=np.array([0, 1, 0]))


BAD_DATA = [
    pytest.param("ratings:r.csv", "mf", lambda p: p.write_text("user,item,score\nu1,i1,3\n"),
                 "workload.dataset: r.csv: no column 'rating'; the first line must be a header", id="ratings-column"),
    pytest.param("ratings:r.csv", "mf", lambda p: p.write_text("user,item,rating\nu1,i1,3\nu2,i2,five\n"),
                 "workload.dataset: r.csv: column 'rating', line 3: 'five' is not a number", id="ratings-value"),
    pytest.param("images.npz", "cnn2d", _ragged_images,
                 "workload.dataset: images.npz: array 'x' cannot be read without pickle", id="ragged-images"),
    pytest.param("text:c.txt", "transformer", lambda p: p.write_text(""),
                 "workload.dataset: c.txt: empty file; language modelling with context 64", id="empty-text"),
]


@pytest.mark.parametrize(("dataset", "model", "write", "message"), BAD_DATA)
def test_bad_data_in_a_spec_is_one_line_and_exit_2(dataset, model, write, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / dataset.rpartition(":")[2])
    (tmp_path / "s.toml").write_text(f'name = "bad"\n[workload]\ndataset = "{dataset}"\nmodel = "{model}"\n'
                                     '[grid]\ninit = ["gpt2"]\n[[grid.optimizer]]\nname = "adamw"\n')
    with pytest.raises(SystemExit) as exit_status:
        initopt_main(["study", "run", "s.toml", "--db", "s.db"])
    assert exit_status.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"initopt: error: {message}"), err
    assert not (tmp_path / "s.db").exists()  # refused before anything was stored
