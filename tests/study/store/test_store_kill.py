"""A real ``kill -9`` of a process writing to the store: after reopening, every committed batch of
epoch rows is there in full and nothing of an uncommitted one is."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from initopt.study.store import SQLiteStore, Status

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

N_CONFIGS = 400  # rows per batch: big enough that a transaction takes a while to write

# The child: starts a study, then stores one batch per epoch for ever, printing each committed epoch.
WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from initopt.study.store import ConfigRecord, EpochRecord, open_store

    path, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    store = open_store(path)
    store.begin_study("k", {}, "w", {})
    store.add_configs("k", [ConfigRecord(f"c{i}", "he_normal", {}, "sgd", {"lr": 0.1}, i) for i in range(n)])
    ids = store.to_run("k")
    store.mark_running("k", ids)
    if mode == "midway":
        store.conn.execute("PRAGMA cache_size = 8")  # spill uncommitted pages into the WAL early
        for epoch in (1, 2, 3):
            store.record_epochs("k", [EpochRecord(i, epoch, 1.0) for i in ids])

        def rows():
            for k in range(40 * n):
                yield EpochRecord(ids[k % n], 4 + k // n, 1.0)
                if k == 30 * n:  # deep inside the transaction of record_epochs
                    os.kill(os.getpid(), signal.SIGKILL)

        store.record_epochs("k", rows())
    print("ready", flush=True)
    epoch = 0
    while True:
        epoch += 1
        store.record_epochs("k", [EpochRecord(i, epoch, float(epoch), seconds=0.001) for i in ids])
        print(epoch, flush=True)
    """
)


def _spawn(path, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(N_CONFIGS), mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _assert_whole_batches(path) -> int:
    """Open after the crash: integrity ok, and every stored epoch has all ``N_CONFIGS`` rows."""
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    with SQLiteStore(path) as store:
        per_epoch = Counter(e.epoch for e in store.epochs("k"))
        assert store.counts("k")[Status.RUNNING] == N_CONFIGS
    epochs = sorted(per_epoch)
    assert epochs == list(range(1, len(epochs) + 1))
    assert set(per_epoch.values()) <= {N_CONFIGS}, f"a half-written batch: {per_epoch}"
    return len(epochs)


@pytest.mark.parametrize("kill_after", [3, 11, 25])
def test_sigkill_while_writing_leaves_only_whole_batches(tmp_path, kill_after):
    path = tmp_path / "killed.db"
    committed = 0
    with _spawn(path, "loop") as child:
        assert child.stdout is not None and child.stderr is not None
        for line in child.stdout:
            if line.strip().isdigit():
                committed = int(line)
            if committed >= kill_after:
                child.send_signal(signal.SIGKILL)  # the child is still writing: this lands mid-loop
                break
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, child.stderr.read()
    stored = _assert_whole_batches(path)
    assert stored >= committed  # everything the child saw committed survived (and maybe one more)

    # Resume: the configs were left running; taking them up again drops the stale epochs.
    with SQLiteStore(path) as store:
        todo = store.to_run("k")
        assert len(todo) == N_CONFIGS
        store.mark_running("k", todo)
        assert store.epochs("k") == []


def test_sigkill_inside_one_record_epochs_call_writes_none_of_it(tmp_path):
    path = tmp_path / "midway.db"
    with _spawn(path, "midway") as child:
        _, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err
    assert os.path.exists(f"{path}-wal")  # the crash left a WAL behind, with uncommitted frames in it
    assert _assert_whole_batches(path) == 3
