"""A study killed with SIGKILL mid-run and started again ends with every configuration exactly once."""

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

SPEC = """
name = "killme"
[workload]
dataset = "seed-binary"
hidden = [16]
[train]
epochs = 4
[grid]
init = ["he_normal", "xavier_normal"]
seeds = [0, 1]
[[grid.optimizer]]
name = "sgd"
lr = [0.001, 0.01, 0.1]
momentum = [0.0, 0.9]
"""
N_CONFIGS = 2 * 2 * 3 * 2


@pytest.fixture
def initopt(initopt_command, cli_environment):
    def start(*args, **kwargs):
        return subprocess.Popen([*initopt_command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=cli_environment, **kwargs)

    return start


def finished(db: Path) -> dict[str, str]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return dict(conn.execute("SELECT id, finished FROM configs WHERE status IN ('done', 'diverged', 'failed', 'pruned')"))
    except sqlite3.OperationalError:  # the schema is not there yet
        return {}


def kill_once_finished(process, db: Path, n: int, poll: float) -> dict[str, str]:
    """SIGKILL ``process`` once ``n`` configurations have ended in ``db`` (it must still be running then);
    returns the ended ones with their finish times."""
    deadline = time.monotonic() + 120
    while len(finished(db)) < n and process.poll() is None and time.monotonic() < deadline:
        time.sleep(poll)
    assert process.poll() is None, "the study ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    before = finished(db)
    assert n <= len(before) < N_CONFIGS
    return before


def test_sigkill_mid_study_then_resume(tmp_path, initopt):
    spec, db = tmp_path / "kill.toml", tmp_path / "kill.db"
    spec.write_text(SPEC)
    process = initopt("study", "run", str(spec), "--db", str(db), "--max-bundle", "3", cwd=tmp_path)
    before = kill_once_finished(process, db, 3, poll=0.02)

    resumed = initopt("study", "run", str(spec), "--db", str(db), "--max-bundle", "3", cwd=tmp_path)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()
    assert f"{len(before)} of {N_CONFIGS} configurations were already finished" in out.decode()

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, status, epochs_run, finished FROM configs").fetchall()
        assert len(rows) == N_CONFIGS and len({r[0] for r in rows}) == N_CONFIGS
        assert {r[1] for r in rows} <= {"done", "diverged"}
        for cid, _, epochs_run, _ in rows:
            epochs = [e for (e,) in conn.execute("SELECT epoch FROM epochs WHERE config_id = ? ORDER BY epoch", (cid,))]
            assert epochs == list(range(1, epochs_run + 1)), cid
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
    after = {r[0]: r[3] for r in rows}
    assert all(after[cid] == stamp for cid, stamp in before.items())  # nothing finished was lost or redone


HALVING = SPEC.replace('name = "killme"', 'name = "killme-halving"').replace("epochs = 4", "epochs = 9") + """
[search]
strategy = "halving"
reduction_factor = 3
min_epochs = 1
"""


def test_sigkill_mid_halving_then_resume_continues_the_ladder_as_it_would_have(tmp_path, initopt):
    """Killed after some configurations ended (pruned at a rung or done), run again: nothing that ended
    is run again or lost, and every configuration ends as in an uninterrupted run of the same spec."""
    from initopt.study.runner import run_study

    spec, db = tmp_path / "halving.toml", tmp_path / "halving.db"
    spec.write_text(HALVING)
    args = ("study", "run", str(spec), "--db", str(db), "--max-bundle", "6", "--threads", "1")
    before = kill_once_finished(initopt(*args, cwd=tmp_path), db, 4, poll=0.01)

    resumed = initopt(*args, cwd=tmp_path)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()

    whole = tmp_path / "whole.db"
    run_study(spec, db=whole, max_bundle=6, threads=1)
    query = "SELECT id, status, epochs_run, val_metric, finished FROM configs ORDER BY id"
    with sqlite3.connect(db) as conn, sqlite3.connect(whole) as reference:
        got, expected = conn.execute(query).fetchall(), reference.execute(query).fetchall()
        assert [r[:4] for r in got] == [r[:4] for r in expected]
        assert {r[1] for r in got} == {"done", "pruned"}
        for cid, _, epochs_run, _, _ in got:
            epochs = [e for (e,) in conn.execute("SELECT epoch FROM epochs WHERE config_id = ? ORDER BY epoch", (cid,))]
            assert epochs == list(range(1, epochs_run + 1)), cid
    after = {r[0]: r[4] for r in got}
    assert all(after[cid] == stamp for cid, stamp in before.items())  # nothing that had ended was lost or redone
