"""The store as a file: what it refuses to open, its schema versions, and sharing it between connections."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from initopt.study.store import SCHEMA_VERSION, EpochRecord, SQLiteStore, Status, StoreError, open_store
from initopt.study.store import schema as schema_module
from initopt.study.store.records import RUNNABLE
from initopt.study.store.sqlite import _RUNNABLE_SQL

DATA = Path(__file__).parent / "data"
STUDY = "lr-sweep"


def _layout(path: Path) -> dict[str, object]:
    """Tables with their columns and the indexes: what a migrated file must share with a new one."""
    with sqlite3.connect(path) as conn:
        sql = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        tables = [r[0] for r in conn.execute(sql)]
        out: dict[str, object] = {t: [tuple(r)[1:] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
        out["indexes"] = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'"))
    conn.close()
    return out


def test_new_file_is_wal_and_versioned(tmp_path, make_configs):
    path = tmp_path / "sub" / "dir" / "initopt.db"  # missing folders are created
    with open_store(path) as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        store.begin_study(STUDY, {}, "w", {})
        store.add_configs(STUDY, make_configs(2))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert conn.execute("PRAGMA application_id").fetchone()[0] == schema_module.APPLICATION_ID
    conn.close()
    with open_store(path) as store:  # reopening changes nothing
        assert store.counts(STUDY)[Status.PENDING] == 2


def test_status_values_match_the_schema_check():
    assert _RUNNABLE_SQL == "(" + ", ".join(f"'{s.value}'" for s in RUNNABLE) + ")"
    ddl = " ".join(schema_module.MIGRATIONS[schema_module.SCHEMA_VERSION])  # the latest configs table
    assert "CHECK (status IN (" + ", ".join(f"'{s.value}'" for s in Status) + "))" in ddl


@pytest.mark.parametrize(
    "content",
    [b"epoch,loss\n1,0.5\n" * 50, b"\x00\xff" * 4096, b"SQLite format 3\x00" + b"\x01" * 200],
    ids=["csv", "binary", "truncated-sqlite-header"],
)
def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path, content):
    path = tmp_path / "results.csv"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=r"results\.csv is not a usable SQLite results database") as err:
        SQLiteStore(path)
    assert err.value.__cause__ is None and err.value.__suppress_context__  # one message, no sqlite3 traceback
    assert path.read_bytes() == content  # and the file is left alone


def test_another_programs_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE trials (id INTEGER)")
    conn.close()
    with pytest.raises(StoreError, match=r"other\.db is a SQLite database but not an initopt results store"):
        SQLiteStore(path)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        SQLiteStore(tmp_path)


def test_an_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with SQLiteStore(path) as store:
        assert store.studies() == []


def test_a_newer_schema_version_is_refused(tmp_path):
    path = tmp_path / "future.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    with pytest.raises(StoreError, match=r"future\.db has store schema version 7, newer than this initopt reads"):
        SQLiteStore(path)


def test_version_1_file_opens_and_reads(tmp_path):
    """An old database file kept in the tests (as a SQL dump, so that it diffs): it must open, read,
    and end up with the same layout as a new file. Add ``v2.sql`` etc. beside it with each new version."""
    old = tmp_path / "v1.db"
    with sqlite3.connect(old) as conn:
        conn.executescript((DATA / "v1.sql").read_text())
    conn.close()
    with SQLiteStore(old) as store:
        rec = store.study("xor-demo")
        assert rec.workload_key == "mlp-xor-2ep" and rec.counts[Status.DONE] == 1 and rec.counts[Status.PENDING] == 1
        rows = store.configs("xor-demo")
        assert rows[0].hyper == {"lr": 0.001, "weight_decay": 0.01, "betas": (0.9, 0.999), "eps": 1e-08}
        assert [e.epoch for e in store.epochs("xor-demo", rows[0].id)] == [1, 2]
    SQLiteStore(tmp_path / "new.db").close()
    assert _layout(old) == _layout(tmp_path / "new.db")


def test_migrations_run_in_order_in_one_transaction(tmp_path, monkeypatch, make_configs):
    """The migration runner, with a made-up version 4: data survives, the version moves, and a
    failing step leaves the file at the old version untouched."""
    path = tmp_path / "old.db"
    with SQLiteStore(path) as store:
        store.begin_study(STUDY, {}, "w", {})
        store.add_configs(STUDY, make_configs(3))
    v3 = ("ALTER TABLE epochs ADD COLUMN grad_norm REAL",)
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", 4)
    monkeypatch.setitem(schema_module.MIGRATIONS, 4, (*v3, "CREATE TABLE broken (x"))
    raw = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.Error):
        schema_module.check_and_migrate(raw, path)
    raw.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert "grad_norm" not in [r[1] for r in conn.execute("PRAGMA table_info(epochs)")]
    conn.close()
    monkeypatch.setitem(schema_module.MIGRATIONS, 4, v3)
    with SQLiteStore(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == 4
        assert "grad_norm" in [r[1] for r in store.conn.execute("PRAGMA table_info(epochs)")]
        assert store.counts(STUDY)[Status.PENDING] == 3


# --- two connections ----------------------------------------------------------------------------


@pytest.fixture
def shared(tmp_path, make_configs):
    """A writer store and a reader store on one file, with three running configs."""
    path = tmp_path / "shared.db"
    writer, reader = SQLiteStore(path), SQLiteStore(path)
    writer.begin_study(STUDY, {}, "w", {})
    writer.add_configs(STUDY, make_configs(3))
    writer.mark_running(STUDY, writer.to_run(STUDY))
    yield path, writer, reader
    writer.close()
    reader.close()


def test_reader_sees_commits_and_is_not_blocked_by_an_open_write(shared):
    path, writer, reader = shared
    ids = writer.to_run(STUDY)
    writer.record_epochs(STUDY, [EpochRecord(i, 1, 1.0) for i in ids])
    assert len(reader.epochs(STUDY)) == 3
    other = sqlite3.connect(path, isolation_level=None)  # another process mid-transaction
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO epochs (study, config_id, epoch, train_loss) VALUES (?, ?, 2, 0.5)", (STUDY, ids[0]))
    start = time.perf_counter()
    assert len(reader.epochs(STUDY)) == 3  # the last commit, at once: WAL readers do not wait for writers
    assert reader.counts(STUDY)[Status.RUNNING] == 3
    assert time.perf_counter() - start < 1.0
    other.execute("COMMIT")
    other.close()
    assert len(reader.epochs(STUDY)) == 4


def test_a_second_writer_waits_for_the_first(shared):
    path, writer, _ = shared
    ids = writer.to_run(STUDY)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    start = time.perf_counter()
    writer.record_epochs(STUDY, [EpochRecord(i, 1, 1.0) for i in ids])  # waits on busy_timeout, then writes
    assert time.perf_counter() - start >= 0.2
    release.join()
    other.close()
    assert len(writer.epochs(STUDY)) == 3


def test_a_writer_gives_up_after_its_timeout_with_a_clear_error(shared):
    path, _, _ = shared
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with SQLiteStore(path, timeout=0.1) as impatient:  # opening a current file takes no lock
            assert impatient.counts(STUDY)[Status.RUNNING] == 3
            with pytest.raises(StoreError, match=r"shared\.db is busy .* after waiting 0\.1 s"):
                impatient.finish(STUDY, [])
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_one_store_shared_by_threads(shared):
    """A writer thread and the main thread on one store: the lock keeps transactions apart."""
    _, writer, _ = shared
    ids = writer.to_run(STUDY)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for epoch in range(1, 51):
                writer.record_epochs(STUDY, [EpochRecord(i, epoch, 1.0 / epoch) for i in ids])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    while thread.is_alive():
        n = len(writer.epochs(STUDY))
        assert n % 3 == 0  # whole batches only
    thread.join()
    assert errors == [] and len(writer.epochs(STUDY)) == 150


def test_version_2_file_upgrades_to_take_pruned_configurations(tmp_path):
    """A study written with schema 2 (before successive halving): the configs table is rebuilt with
    the new status allowed; every row, epoch and checkpoint survives, and the layout is a new file's."""
    old = tmp_path / "v2.db"
    with sqlite3.connect(old) as conn:
        conn.executescript((Path(__file__).parents[1] / "data" / "release_v2_study.sql").read_text())
        before = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("configs", "epochs", "studies")}
        done = conn.execute("SELECT study, id FROM configs WHERE status = 'done' LIMIT 1").fetchone()
    conn.close()
    assert before["epochs"] > 0 and done
    with SQLiteStore(old) as store:
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        after = {t: store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in before}
        assert after == before
        store.conn.execute("UPDATE configs SET status = 'pruned' WHERE study = ? AND id = ?", done)
        assert [r.status for r in store.configs(done[0]) if r.id == done[1]] == [Status.PRUNED]
        with pytest.raises(sqlite3.IntegrityError):
            store.conn.execute("UPDATE configs SET status = 'lost' WHERE study = ? AND id = ?", done)
    SQLiteStore(tmp_path / "new.db").close()
    assert _layout(old) == _layout(tmp_path / "new.db")
