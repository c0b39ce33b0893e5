"""The SQLite schema of a study store, versioned by ``PRAGMA user_version`` (optuna's habit).

``MIGRATIONS[v]`` holds the statements that take a file from version ``v - 1`` to ``v``; version 0 is
a new, empty file. A released version's statements never change: a later change is a new version
with its own ``ALTER``/``CREATE`` statements and an old database file under ``tests/`` that proves
the upgrade. ``PRAGMA application_id`` marks a file as an initopt store, so another program's
SQLite file is refused instead of being written into.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from initopt.study.store.errors import StoreError

SCHEMA_VERSION = 3
APPLICATION_ID = 0x696E6974  # b"init": lets `file(1)` and initopt tell a store from other SQLite files

_V1 = (
    """
    CREATE TABLE studies (
        name         TEXT PRIMARY KEY,
        spec         TEXT NOT NULL,          -- JSON
        workload_key TEXT NOT NULL,          -- data + model + train settings; results mix only under one key
        environment  TEXT NOT NULL,          -- JSON: versions, device, ... of the creating run
        created      TEXT NOT NULL,          -- ISO 8601, UTC
        updated      TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        study       TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
        started     TEXT NOT NULL,
        finished    TEXT,                    -- NULL: still running, or killed
        engine      TEXT NOT NULL,
        environment TEXT NOT NULL,           -- JSON
        n_configs   INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE configs (
        study          TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
        id             TEXT NOT NULL,        -- content hash from the spec
        seq            INTEGER NOT NULL,     -- insertion order within the study (rowids may move on VACUUM)
        init           TEXT NOT NULL,
        init_params    TEXT NOT NULL,        -- JSON
        optimizer      TEXT NOT NULL,
        lr             REAL,
        weight_decay   REAL,
        momentum       REAL,
        hyper          TEXT NOT NULL,        -- JSON: every optimizer argument as given
        seed           INTEGER NOT NULL,
        status         TEXT NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed')),
        epochs_run     INTEGER NOT NULL DEFAULT 0,
        train_loss     REAL,                 -- final values; NULL = NaN once the config has ended
        val_loss       REAL,
        val_metric     REAL,
        diverged_epoch INTEGER,
        error          TEXT,
        wall_seconds   REAL,
        started        TEXT,
        finished       TEXT,
        PRIMARY KEY (study, id)
    )
    """,
    "CREATE INDEX configs_by_status ON configs (study, status, seq)",
    """
    CREATE TABLE epochs (
        study        TEXT NOT NULL,
        config_id    TEXT NOT NULL,
        epoch        INTEGER NOT NULL CHECK (epoch >= 1),
        train_loss   REAL,                   -- NULL = NaN
        train_metric REAL,
        val_loss     REAL,
        val_metric   REAL,
        seconds      REAL,
        PRIMARY KEY (study, config_id, epoch),
        FOREIGN KEY (study, config_id) REFERENCES configs (study, id) ON DELETE CASCADE
    ) WITHOUT ROWID
    """,
)

# Version 2: the test split's values beside the validation split's (selection moved to validation);
# a claim on each configuration (the process training it and when it last said it was alive); a
# checkpoint of each interrupted bundle at its last finished epoch.
_V2 = (
    "ALTER TABLE epochs ADD COLUMN test_loss REAL",
    "ALTER TABLE epochs ADD COLUMN test_metric REAL",
    "ALTER TABLE configs ADD COLUMN test_loss REAL",
    "ALTER TABLE configs ADD COLUMN test_metric REAL",
    "ALTER TABLE configs ADD COLUMN owner TEXT",  # the claiming process: host:pid:token
    "ALTER TABLE configs ADD COLUMN heartbeat REAL",  # unix time of its owner's last beat
    """
    CREATE TABLE checkpoints (
        study      TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
        bundle     TEXT NOT NULL,            -- hash of the bundle's sorted configuration ids
        config_ids TEXT NOT NULL,            -- JSON list, in the bundle's order
        epoch      INTEGER NOT NULL,         -- the last finished epoch the state is at
        state      BLOB NOT NULL,            -- torch.save of parameters, optimizer, data order, RNG
        written    TEXT NOT NULL,
        PRIMARY KEY (study, bundle)
    )
    """,
)

# Version 3: a configuration can end "pruned" (stopped by successive halving at a rung, with its epochs
# so far), and keeps the bundle its study's plan put it in (a halving study run again forms the same
# bundles: its decisions depend on which configurations reach a rung together). SQLite cannot change
# a CHECK constraint in place: the configs table is rebuilt with the new one (SQLite's documented
# twelve-step way: foreign keys off around the transaction, a new table with the old columns in their
# order and the new one last, rows copied, the old table dropped, the new one renamed).
_CONFIGS_V1 = _V1[2]
_V3 = (
    _CONFIGS_V1.replace("CREATE TABLE configs (", "CREATE TABLE configs_v3 (")
    .replace("CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed')),",
             "CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed', 'pruned')),")
    .replace("        PRIMARY KEY (study, id)\n",
             "        test_loss      REAL,\n        test_metric    REAL,\n        owner          TEXT,\n"
             "        heartbeat      REAL,\n        bundle         INTEGER,\n        PRIMARY KEY (study, id)\n"),
    "INSERT INTO configs_v3 SELECT *, NULL FROM configs",
    "DROP TABLE configs",
    "ALTER TABLE configs_v3 RENAME TO configs",
    "CREATE INDEX configs_by_status ON configs (study, status, seq)",
)

MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1, 2: _V2, 3: _V3}


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _application_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA application_id").fetchone()[0])


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return sorted(r[0] for r in rows)


def check_and_migrate(conn: sqlite3.Connection, path: str | Path) -> int:
    """Create the schema in a new file or upgrade an older one; return the version found.

    A current file is only read (no lock: a report can open a store while a study writes to it).
    Creating or upgrading runs in one ``BEGIN IMMEDIATE`` transaction that reads the version again
    inside it, so two processes opening the same new file at once create the schema once. Raises
    ``StoreError`` for another program's database or a file written by a newer initopt.
    """
    found = _check(conn, path)
    if found == SCHEMA_VERSION:
        return found
    # a migration that rebuilds a table drops the old one: with foreign keys on, that would delete the
    # rows that refer to it (the pragma is a no-op inside a transaction, so it is set around it)
    keys_on = bool(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = _check(conn, path)
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise StoreError(f"{path}: upgrading the store left {len(broken)} rows without their parent row")
        # PRAGMA arguments cannot be bound; both values are integers from this module.
        conn.execute(f"PRAGMA user_version = {int(SCHEMA_VERSION)}")
        conn.execute(f"PRAGMA application_id = {int(APPLICATION_ID)}")
    except BaseException:
        conn.execute("ROLLBACK")
        conn.execute(f"PRAGMA foreign_keys = {int(keys_on)}")
        raise
    conn.execute("COMMIT")
    conn.execute(f"PRAGMA foreign_keys = {int(keys_on)}")
    return found


def _check(conn: sqlite3.Connection, path: str | Path) -> int:
    found = user_version(conn)
    if _application_id(conn) != APPLICATION_ID:
        tables = _tables(conn)
        if tables or found:
            raise StoreError(
                f"{path} is a SQLite database but not an initopt results store "
                f"(tables: {', '.join(tables) or 'none'}); use another --db"
            )
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has store schema version {found}, newer than this initopt reads "
            f"(up to {SCHEMA_VERSION}); upgrade initopt or use another --db"
        )
    return found
