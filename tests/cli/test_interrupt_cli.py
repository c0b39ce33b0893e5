"""Ctrl-C and SIGKILL in the middle of a bundle, real processes (SIGTERM goes through Ctrl-C's path): the run says what it saved
(exit 130), `study list` shows the bundle as interrupted, and the next run goes on from the bundle's
checkpoint to results identical to an uninterrupted run."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from initopt.study.runner import run_study
from initopt.study.store import SQLiteStore

SPEC = """
name = "cut"
[workload]
dataset = "digits"
hidden = [64]
[train]
epochs = 30
batch_size = 16
[grid]
init = ["he_normal", "xavier_normal"]
seeds = [0, 1]
[[grid.optimizer]]
name = "adamw"
lr = [0.001, 0.003]
"""


def checkpoint_epoch(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute("SELECT MAX(epoch) FROM checkpoints").fetchone()
    except sqlite3.OperationalError:  # no schema yet
        return 0
    return row[0] or 0


def epochs(db: Path) -> dict:
    with SQLiteStore(db) as store:
        return {(e.config_id, e.epoch): (e.train_loss, e.val_loss, e.test_loss) for e in store.epochs("cut")}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("whole")
    (folder / "cut.toml").write_text(SPEC)
    run_study(folder / "cut.toml", db=folder / "whole.db")
    return epochs(folder / "whole.db")


def test_sigterm_stops_a_study_run_as_ctrl_c_does():
    """`study run`'s SIGTERM handler turns the signal into the KeyboardInterrupt Ctrl-C raises (whose
    handling the SIGINT case below runs for real)."""
    import os

    from initopt.cli.study import _interrupt_on_sigterm

    previous = signal.getsignal(signal.SIGTERM)
    try:
        _interrupt_on_sigterm()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs before this ends
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_a_stopped_bundle_goes_on_from_its_checkpoint(tmp_path, signum, initopt_command, cli_environment, cli, uninterrupted):
    spec, db = tmp_path / "cut.toml", tmp_path / "cut.db"
    spec.write_text(SPEC)
    process = subprocess.Popen([*initopt_command, "study", "run", str(spec), "--db", str(db), "--checkpoint-every", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_environment, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while checkpoint_epoch(db) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the study ended before it could be stopped"
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    saved = checkpoint_epoch(db)
    assert 2 <= saved < 30
    if signum == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:
        assert process.returncode == 130
        [line] = [l for l in err.splitlines() if l.strip() and not l.startswith("[study]")]
        assert line.startswith("Interrupted: 0 of 8 configurations of study 'cut' finished and stored in")
        assert f"8 more saved part-way (after epoch {saved})" in line
        assert line.endswith(f"Resume with: initopt study run {spec} --db {db}")
        assert "Traceback" not in err

    listed = cli("study", "list", "--db", str(db))
    assert listed.returncode == 0
    row = next(l for l in listed.stdout.splitlines() if l.strip().startswith("cut"))
    # configs, done, diverged, failed, pruned, interrupted, running, pending
    assert row.split()[1:9] == ["8", "0", "0", "0", "0", "8", "0", "0"], listed.stdout

    resumed = cli("study", "run", str(spec), "--db", str(db), "--report", str(tmp_path / "r.html"))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming a bundle of 8 configurations after epoch {saved} of 30" in resumed.stdout + resumed.stderr
    assert epochs(db) == uninterrupted  # bit for bit
