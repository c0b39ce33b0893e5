"""Two processes running one study on one database share its bundles: every configuration is
trained once, by one of them (real processes, started together)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time

SPEC = """
name = "shared"
[workload]
dataset = "digits"
hidden = [32]
[train]
epochs = 20
batch_size = 16
[grid]
init = ["he_normal", "xavier_normal"]
seeds = [0, 1]
[[grid.optimizer]]
name = "adamw"
lr = [0.001, 0.003, 0.01, 0.03]
"""
N_CONFIGS = 16


def test_two_processes_share_a_study_and_train_each_configuration_once(tmp_path, initopt_command, cli_environment):
    spec, db = tmp_path / "shared.toml", tmp_path / "shared.db"
    spec.write_text(SPEC)
    command = [*initopt_command, "study", "run", str(spec), "--db", str(db), "--max-bundle", "2"]
    started = time.perf_counter()
    processes = [subprocess.Popen([*command, "--report", str(tmp_path / f"r{i}.html")], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=cli_environment, cwd=tmp_path) for i in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    print(f"the pair took {time.perf_counter() - started:.1f} s")  # compared with one run in docs, never asserted
    assert [p.returncode for p in processes] == [0, 0], outputs
    trained = [int(re.search(r"Study 'shared': (\d+) configurations run", out).group(1)) for out, _ in outputs]
    assert sum(trained) == N_CONFIGS and all(trained), outputs  # each did a share, together all, none twice
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM configs WHERE status = 'done'").fetchone()[0] == N_CONFIGS
        assert conn.execute("SELECT COUNT(*) FROM epochs").fetchone()[0] == N_CONFIGS * 20
        assert conn.execute("SELECT COUNT(*) FROM configs WHERE owner IS NOT NULL").fetchone()[0] == 0
        runs = conn.execute("SELECT n_configs, finished FROM runs").fetchall()
    conn.close()
    assert len(runs) == 2 and all(finished for _, finished in runs)
