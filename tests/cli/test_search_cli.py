"""`initopt study run` with a [search] table: each sampled strategy from a spec file, and a bad
distribution as one line with exit code 2 (in-process; the halving kill test runs the real command)."""

from __future__ import annotations

import sqlite3

import pytest

from initopt.cli.main import run as initopt_main

SPEC = """
name = "searched"
[workload]
dataset = "seed-binary"
hidden = [8]
[train]
epochs = 3
batch_size = 64
[grid]
init = ["he_normal", "xavier_normal"]
seeds = [0, 1]
[[grid.optimizer]]
name = "adamw"
lr = {LR}
weight_decay = [0.0, 0.01]
[search]
{SEARCH}
"""
LOG_LR = '{distribution = "log-uniform", low = 1e-4, high = 1e-1}'


@pytest.mark.parametrize("search", ['strategy = "random"\nbudget = 8', 'strategy = "sobol"\nbudget = 8',
                                    'strategy = "tpe"\nbudget = 8',
                                    'strategy = "halving"\nsampler = "sobol"\nbudget = 8\nreduction_factor = 2'])
def test_each_sampled_strategy_runs_from_a_spec_file(search, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(SPEC.replace("{LR}", LOG_LR).replace("{SEARCH}", search))
    with pytest.raises(SystemExit) as exit_status:
        initopt_main(["study", "run", "s.toml", "--db", "s.db", "--threads", "1"])
    assert exit_status.value.code == 0, capsys.readouterr().err
    assert "8 configurations" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "s.db") as conn:
        rows = conn.execute("SELECT status, lr FROM configs").fetchall()
    assert len(rows) == 8 and all(1e-4 <= lr <= 1e-1 for _, lr in rows)
    assert {status for status, _ in rows} <= {"done", "pruned"}
    if "halving" in search:  # the listing counts the pruned ones in a column of their own
        with pytest.raises(SystemExit):
            initopt_main(["study", "list", "--db", "s.db"])
        row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("searched"))
        done, pruned = (sum(status == s for status, _ in rows) for s in ("done", "pruned"))
        assert row.split()[1:6] == ["8", str(done), "0", "0", str(pruned)], row


@pytest.mark.parametrize("lr, message", [
    ('{distribution = "log-uniform", low = 0, high = 0.1}', "grid.optimizer[0].lr.low: a log scale needs low > 0, got 0"),
    ('{distribution = "uniform", low = 0.1, high = 0.01}', "grid.optimizer[0].lr: low must be below high"),
])
def test_a_bad_distribution_is_one_line_and_exit_2(lr, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(SPEC.replace("{LR}", lr).replace("{SEARCH}", 'strategy = "random"\nbudget = 4'))
    with pytest.raises(SystemExit) as exit_status:
        initopt_main(["study", "run", "s.toml", "--db", "s.db"])
    assert exit_status.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"initopt: error: s.toml: {message}"), err
    assert not (tmp_path / "s.db").exists()
