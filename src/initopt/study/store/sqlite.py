"""``SQLiteStore``: a study's configs, per-epoch metrics and outcomes in one SQLite file.

Why it survives ``kill -9``: every public write is one transaction (``BEGIN IMMEDIATE`` ...
``COMMIT``) and the file is in WAL mode, so after a crash a call's rows are all there or none are.
``synchronous=NORMAL`` keeps committed transactions across a killed *process*; only a power cut or an
OS crash can lose the last few (SQLite's documented trade-off for WAL, far faster than ``FULL``).
Readers in other processes see the last commit and never block the writer.

Resume: a config left ``running`` by a dead process is handed out again by ``to_run``;
``mark_running`` deletes the epoch rows of that earlier attempt, so every epoch is stored once.
Finished configs are never changed except through ``reset``.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from initopt.study.store.errors import StoreError
from initopt.study.store.claims import STALE_SECONDS, is_live
from initopt.study.store.records import (
    RUNNABLE,
    Checkpoint,
    ConfigRecord,
    ConfigRow,
    EpochRecord,
    ResultRecord,
    RunRecord,
    Status,
    StudyRecord,
    freeze_json,
)
from initopt.study.store.schema import check_and_migrate

DEFAULT_DB = "initopt.db"
BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another process's transaction before giving up
_MEMORY = ":memory:"
_RUNNABLE_SQL = "('pending', 'running')"  # RUNNABLE as SQL; a test checks they agree
_ID_CHUNK = 500  # ids per IN (...) query, well under SQLite's bound-parameter limit


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _real(value: float | None) -> float | None:
    """A metric as SQLite stores it: NaN (and None) become NULL."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _column(value: Any) -> float | None:
    """A hyperparameter for its SQL column: numbers only (a schedule or a tuple stays in the JSON)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} cannot be stored as JSON: {exc}") from None


def _loads(text: str) -> Any:
    return freeze_json(json.loads(text))


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


class SQLiteStore:
    """A study store in one SQLite file (or ``":memory:"``). Use as a context manager or ``close()``.

    One connection, guarded by a lock so that a writer thread and the main thread can share it.
    Raises ``StoreError`` (a ``ValueError``) for a file that is not an initopt store, a schema newer
    than this initopt, an unknown study, or a write that would mix or overwrite results.

    >>> with SQLiteStore(":memory:") as store:
    ...     store.begin_study("demo", {"seeds": 3}, "mlp-xor-10ep", {"torch": "2.11"})
    ...     store.counts("demo")[Status.PENDING]
    0
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_DB, *, timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        if self.path != _MEMORY:
            file = Path(self.path)
            if file.is_dir():
                raise StoreError(f"{self.path} is a directory; give a results database file (--db)")
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of {self.path}: {exc}") from None
        try:
            conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path} as a results database: {exc}") from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")  # the first read of the file: fails here if not SQLite
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            check_and_migrate(conn, self.path)
        except StoreError:
            conn.close()
            raise
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(f"{self.path} is busy ({exc}) after waiting {timeout:g} s") from None
            raise StoreError(f"cannot open {self.path} as a results database: {exc}") from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{self.path} is not a usable SQLite results database ({exc}); use another --db") from None
        self._conn = conn

    # --- plumbing -------------------------------------------------------------------------------

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def close(self) -> None:
        """Close the connection (idempotent). The last connection to close folds the WAL back in."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (for ad-hoc SQL in reports and tests)."""
        if self._conn is None:
            raise StoreError(f"the store {self.path} is closed")
        return self._conn

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction. Writers take the write lock up front (``IMMEDIATE``) so they wait on
        ``busy_timeout`` at the start instead of failing half-way; readers get one snapshot."""
        with self._lock:
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{self.path} is busy ({exc}) after waiting {self.timeout:g} s") from None
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _require_study(self, conn: sqlite3.Connection, name: str) -> None:
        if conn.execute("SELECT 1 FROM studies WHERE name = ?", (name,)).fetchone() is None:
            self._unknown_study(conn, name)

    def _unknown_study(self, conn: sqlite3.Connection, name: str) -> None:
        import difflib

        names = [r[0] for r in conn.execute("SELECT name FROM studies ORDER BY created, rowid")]
        msg = f"no study {name!r} in {self.path}"
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            msg += f"; did you mean {close[0]!r}?"
        msg += f" (studies: {', '.join(names)})" if names else " (it has no studies yet)"
        raise StoreError(msg)

    def _statuses(self, conn: sqlite3.Connection, study: str, ids: Sequence[str]) -> dict[str, Status]:
        found: dict[str, Status] = {}
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start : start + _ID_CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, status FROM configs WHERE study = ? AND id IN ({marks})"
            found.update((r[0], Status(r[1])) for r in conn.execute(sql, (study, *chunk)))
        return found

    def _check(
        self, conn: sqlite3.Connection, study: str, ids: Sequence[str], allowed: tuple[Status, ...], action: str
    ) -> None:
        """Raise naming the configs whose status does not allow ``action`` (the transaction rolls back)."""
        self._require_study(conn, study)
        statuses = self._statuses(conn, study, ids)
        bad = [
            f"{i} ({statuses[i].value if i in statuses else 'not in the study'})"
            for i in ids
            if statuses.get(i) not in allowed
        ]
        if bad:
            shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            only = " or ".join(s.value for s in allowed)
            raise StoreError(f"cannot {action} in study {study!r} of {self.path}: only {only} configs can; got {shown}")

    # --- writers --------------------------------------------------------------------------------

    def begin_study(self, name: str, spec: dict[str, Any], workload_key: str, environment: dict[str, Any]) -> None:
        """Create study ``name``, or take it up again when it trains the same workload.

        A study that exists with another ``workload_key`` is refused: its results were measured on
        other data or settings and must not be mixed with new ones.
        """
        spec_json = _dumps(spec, f"the spec of study {name!r}")
        env_json = _dumps(environment, "the environment")
        with self._transaction(write=True) as conn:
            row = conn.execute("SELECT workload_key FROM studies WHERE name = ?", (name,)).fetchone()
            now = _now()
            if row is None:
                conn.execute(
                    "INSERT INTO studies (name, spec, workload_key, environment, created, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (name, spec_json, workload_key, env_json, now, now),
                )
            elif row[0] == workload_key:
                conn.execute("UPDATE studies SET spec = ?, updated = ? WHERE name = ?", (spec_json, now, name))
            else:
                raise StoreError(
                    f"study {name!r} in {self.path} was run with a different workload/train settings; "
                    f"use another name or --db (stored workload key {row[0]!r}, now {workload_key!r})"
                )

    def add_configs(self, study: str, configs: Sequence[ConfigRecord]) -> int:
        """Add the configs not already in the study as pending; return how many were new."""
        params = [
            (
                study, c.id, c.init, _dumps(c.init_params, f"init_params of config {c.id}"), c.optimizer,
                _column(c.lr), _column(c.weight_decay), _column(c.momentum), _dumps(c.hyper, f"hyper of config {c.id}"), c.seed,
            )
            for c in configs
        ]  # fmt: skip
        with self._transaction(write=True) as conn:
            self._require_study(conn, study)
            (last,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM configs WHERE study = ?", (study,)).fetchone()
            cur = conn.executemany(
                "INSERT OR IGNORE INTO configs (study, id, seq, init, init_params, optimizer, lr, weight_decay,"
                " momentum, hyper, seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                # An ignored duplicate uses up a seq number; only the order matters, not gaps.
                ((p[0], p[1], last + 1 + k, *p[2:]) for k, p in enumerate(params)),
            )
            return max(cur.rowcount, 0)

    def assign_bundles(self, study: str, bundles: Sequence[Sequence[str]]) -> None:
        """Number the bundles of a plan (``bundles``: each a list of config ids, in order) after the
        numbers already given, where the configurations have no number yet."""
        with self._transaction(write=True) as conn:
            self._require_study(conn, study)
            (first,) = conn.execute("SELECT COALESCE(MAX(bundle) + 1, 0) FROM configs WHERE study = ?", (study,)).fetchone()
            conn.executemany(
                "UPDATE configs SET bundle = ? WHERE study = ? AND id = ? AND bundle IS NULL",
                ((first + n, study, i) for n, ids in enumerate(bundles) for i in ids),
            )

    def bundle_numbers(self, study: str) -> dict[str, int]:
        """Config id -> the number of its bundle in the plan ``assign_bundles`` stored (numbered ones only)."""
        with self._transaction(write=False) as conn:
            self._require_study(conn, study)
            rows = conn.execute("SELECT id, bundle FROM configs WHERE study = ? AND bundle IS NOT NULL", (study,))
            return {i: int(n) for i, n in rows}

    def to_run(self, study: str, ids: Sequence[str] | None = None) -> list[str]:
        """Ids still to run: pending, or running (left so by a process that died), in insertion order."""
        with self._transaction(write=False) as conn:
            self._require_study(conn, study)
            rows = conn.execute(
                f"SELECT id FROM configs WHERE study = ? AND status IN {_RUNNABLE_SQL} ORDER BY seq", (study,)
            )
            todo = [r[0] for r in rows]
        if ids is None:
            return todo
        wanted = set(ids)
        return [i for i in todo if i in wanted]

    def mark_running(self, study: str, ids: Sequence[str], keep_through: int = 0) -> None:
        """Mark pending/running configs as running now and drop epoch rows of an earlier attempt
        after epoch ``keep_through`` (a bundle resumed from a checkpoint at that epoch keeps those)."""
        ids = _unique(ids)
        now = _now()
        with self._transaction(write=True) as conn:
            self._check(conn, study, ids, RUNNABLE, "mark configs running")
            conn.executemany(
                "UPDATE configs SET status = 'running', started = ?, epochs_run = 0 WHERE study = ? AND id = ?",
                ((now, study, i) for i in ids),
            )
            conn.executemany("DELETE FROM epochs WHERE study = ? AND config_id = ? AND epoch > ?",
                             ((study, i, int(keep_through)) for i in ids))

    # --- claims (which process trains what) -------------------------------------------------------

    def claim(self, study: str, ids: Sequence[str], owner: str, stale_after: float = STALE_SECONDS) -> list[str]:
        """Claim for ``owner`` the configs of ``ids`` still to run and not held by a live claim of another
        owner (``claims.is_live``); return the claimed ones, in the order of ``ids``. One transaction:
        two processes never both get a config."""
        wanted = _unique(ids)
        with self._transaction(write=True) as conn:
            self._require_study(conn, study)
            now = time.time()
            rows = conn.execute(
                f"SELECT id, owner, heartbeat FROM configs WHERE study = ? AND status IN {_RUNNABLE_SQL}", (study,)
            ).fetchall()
            free = {r[0] for r in rows if r[1] == owner or not is_live(r[1], r[2], now, stale_after)}
            claimed = [i for i in wanted if i in free]
            conn.executemany("UPDATE configs SET owner = ?, heartbeat = ? WHERE study = ? AND id = ?",
                             ((owner, now, study, i) for i in claimed))
        return claimed

    def held_elsewhere(self, study: str, owner: str | None = None, stale_after: float = STALE_SECONDS) -> dict[str, str]:
        """Configs still to run that a live claim of another owner holds: id -> owner."""
        with self._transaction(write=False) as conn:
            self._require_study(conn, study)
            rows = conn.execute(
                f"SELECT id, owner, heartbeat FROM configs WHERE study = ? AND status IN {_RUNNABLE_SQL}"
                " AND owner IS NOT NULL", (study,)
            ).fetchall()
        now = time.time()
        return {r[0]: r[1] for r in rows if r[1] != owner and is_live(r[1], r[2], now, stale_after)}

    def interrupted(self, study: str, stale_after: float = STALE_SECONDS) -> list[str]:
        """Configs a run left part-way (epochs stored or a checkpoint) that no live process is training."""
        with self._transaction(write=False) as conn:
            self._require_study(conn, study)
            rows = conn.execute(
                "SELECT c.id, c.owner, c.heartbeat, EXISTS (SELECT 1 FROM epochs e WHERE e.study = c.study"
                f" AND e.config_id = c.id) FROM configs c WHERE c.study = ? AND c.status IN {_RUNNABLE_SQL} ORDER BY c.seq",
                (study,),
            ).fetchall()
            saved = {i for (ids,) in conn.execute("SELECT config_ids FROM checkpoints WHERE study = ?", (study,))
                     for i in json.loads(ids)}
        now = time.time()
        return [i for i, owner, beat, stored in rows
                if (stored or i in saved) and not is_live(owner, beat, now, stale_after)]

    def beat(self, study: str, owner: str) -> None:
        """``owner`` is alive: its claims hold on."""
        with self._transaction(write=True) as conn:
            conn.execute("UPDATE configs SET heartbeat = ? WHERE study = ? AND owner = ?", (time.time(), study, owner))

    def release(self, study: str, owner: str, ids: Sequence[str] | None = None) -> None:
        """Drop ``owner``'s claims, or those on ``ids`` (finished configs drop theirs in ``finish``)."""
        with self._transaction(write=True) as conn:
            if ids is None:
                conn.execute("UPDATE configs SET owner = NULL, heartbeat = NULL WHERE study = ? AND owner = ?",
                             (study, owner))
            else:
                conn.executemany("UPDATE configs SET owner = NULL, heartbeat = NULL WHERE study = ? AND owner = ?"
                                 " AND id = ?", ((study, owner, i) for i in ids))

    # --- checkpoints of unfinished bundles ----------------------------------------------------------

    def checkpoints(self, study: str) -> list[Checkpoint]:
        """The study's bundle checkpoints, oldest first."""
        with self._transaction(write=False) as conn:
            self._require_study(conn, study)
            rows = conn.execute("SELECT bundle, config_ids, epoch, state FROM checkpoints WHERE study = ?"
                                " ORDER BY written, rowid", (study,)).fetchall()
        return [Checkpoint(r[0], tuple(json.loads(r[1])), int(r[2]), bytes(r[3])) for r in rows]

    def drop_checkpoint(self, study: str, bundle: str) -> None:
        with self._transaction(write=True) as conn:
            conn.execute("DELETE FROM checkpoints WHERE study = ? AND bundle = ?", (study, bundle))

    def record_epochs(self, study: str, rows: Iterable[EpochRecord], checkpoint: Checkpoint | None = None) -> None:
        """Store epoch metrics of running configs, all rows in one transaction (call once per epoch
        of a bundle, not per row). A row for an epoch already stored replaces it. ``checkpoint``, the
        bundle's state after these rows, is written in the same transaction: a crash leaves both or
        neither."""
        seen: list[str] = []

        def params() -> Iterator[tuple[Any, ...]]:
            # Consumed inside the transaction: a crash half-way through leaves none of the rows.
            for r in rows:
                seen.append(r.config_id)
                yield (
                    study, r.config_id, int(r.epoch), _real(r.train_loss), _real(r.train_metric),
                    _real(r.val_loss), _real(r.val_metric), _real(r.seconds), _real(r.test_loss), _real(r.test_metric),
                )  # fmt: skip

        with self._transaction(write=True) as conn:
            try:
                cur = conn.executemany(
                    "INSERT OR REPLACE INTO epochs (study, config_id, epoch, train_loss, train_metric, val_loss,"
                    " val_metric, seconds, test_loss, test_metric) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10"
                    " WHERE EXISTS"
                    " (SELECT 1 FROM configs WHERE study = ?1 AND id = ?2 AND status = 'running')",
                    params(),
                )
            except sqlite3.IntegrityError as exc:  # epoch < 1
                raise StoreError(f"cannot store epoch rows in study {study!r} of {self.path}: {exc}") from None
            if cur.rowcount != len(seen):  # some rows were for configs that are not running
                self._check(conn, study, _unique(seen), (Status.RUNNING,), "record epochs")
            if checkpoint is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO checkpoints (study, bundle, config_ids, epoch, state, written)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (study, checkpoint.bundle, json.dumps(list(checkpoint.config_ids)), int(checkpoint.epoch),
                     sqlite3.Binary(checkpoint.state), _now()),
                )

    def finish(self, study: str, results: Sequence[ResultRecord]) -> None:
        """Write the outcomes of configs that ended (done, diverged or failed), in one transaction."""
        now = _now()
        ids = [r.config_id for r in results]
        if len(set(ids)) != len(ids):
            twice = sorted(i for i, n in Counter(ids).items() if n > 1)
            raise StoreError(f"more than one result for config(s) {', '.join(twice[:5])} in study {study!r}")
        with self._transaction(write=True) as conn:
            self._check(conn, study, ids, RUNNABLE, "finish configs")
            conn.executemany(
                "UPDATE configs SET status = ?, epochs_run = ?, train_loss = ?, val_loss = ?, val_metric = ?,"
                " diverged_epoch = ?, error = ?, wall_seconds = ?, finished = ?, test_loss = ?, test_metric = ?,"
                " owner = NULL, heartbeat = NULL WHERE study = ? AND id = ?",
                (
                    (
                        Status(r.status).value, int(r.epochs_run), _real(r.train_loss), _real(r.val_loss),
                        _real(r.val_metric), r.diverged_epoch, r.error, _real(r.wall_seconds), now,
                        _real(r.test_loss), _real(r.test_metric), study, r.config_id,
                    )  # fmt: skip
                    for r in results
                ),
            )

    def reset(self, study: str, ids: Sequence[str]) -> int:
        """Put configs back to pending, dropping their outcome and epochs (to retry failed ones)."""
        ids = _unique(ids)
        with self._transaction(write=True) as conn:
            self._require_study(conn, study)
            cur = conn.executemany(
                "UPDATE configs SET status = 'pending', epochs_run = 0, train_loss = NULL, val_loss = NULL,"
                " val_metric = NULL, diverged_epoch = NULL, error = NULL, wall_seconds = NULL, started = NULL,"
                " finished = NULL, test_loss = NULL, test_metric = NULL, owner = NULL, heartbeat = NULL"
                " WHERE study = ? AND id = ?",
                ((study, i) for i in ids),
            )
            if cur.rowcount != len(ids):
                missing = [i for i in ids if i not in self._statuses(conn, study, ids)]
                shown = ", ".join(missing[:5])
                raise StoreError(f"cannot reset configs not in study {study!r} of {self.path}: {shown}")
            conn.executemany("DELETE FROM epochs WHERE study = ? AND config_id = ?", ((study, i) for i in ids))
            return len(ids)

    def start_run(self, study: str, engine: str, environment: dict[str, Any], n_configs: int) -> int:
        """Record that an invocation starts working on the study; return its run id."""
        env_json = _dumps(environment, "the environment")
        with self._transaction(write=True) as conn:
            self._require_study(conn, study)
            cur = conn.execute(
                "INSERT INTO runs (study, started, engine, environment, n_configs) VALUES (?, ?, ?, ?, ?)",
                (study, _now(), engine, env_json, int(n_configs)),
            )
            return int(cur.lastrowid)  # type: ignore[arg-type]

    def end_run(self, run_id: int) -> None:
        with self._transaction(write=True) as conn:
            cur = conn.execute("UPDATE runs SET finished = ? WHERE id = ?", (_now(), run_id))
            if cur.rowcount != 1:
                raise StoreError(f"no run {run_id} in {self.path}")

    # --- readers --------------------------------------------------------------------------------

    def _counts(self, conn: sqlite3.Connection, study: str | None) -> dict[str, dict[Status, int]]:
        where, args = ("WHERE study = ?", (study,)) if study is not None else ("", ())
        out: dict[str, dict[Status, int]] = {}
        for name, status, n in conn.execute(f"SELECT study, status, COUNT(*) FROM configs {where} GROUP BY 1, 2", args):
            out.setdefault(name, {})[Status(status)] = n
        return out

    @staticmethod
    def _study_record(row: sqlite3.Row, counts: dict[Status, int]) -> StudyRecord:
        return StudyRecord(
            name=row["name"], spec=json.loads(row["spec"]), workload_key=row["workload_key"],
            environment=json.loads(row["environment"]), created=row["created"], updated=row["updated"],
            counts={s: counts.get(s, 0) for s in Status},
        )  # fmt: skip

    def studies(self) -> list[StudyRecord]:
        """Every study in the file, oldest first, with counts per status."""
        with self._transaction(write=False) as conn:
            counts = self._counts(conn, None)
            rows = conn.execute("SELECT * FROM studies ORDER BY created, rowid").fetchall()
        return [self._study_record(r, counts.get(r["name"], {})) for r in rows]

    def study(self, name: str) -> StudyRecord:
        """One study; an unknown name raises ``StoreError`` listing the studies and the closest one."""
        with self._transaction(write=False) as conn:
            row = conn.execute("SELECT * FROM studies WHERE name = ?", (name,)).fetchone()
            if row is None:
                self._unknown_study(conn, name)
            counts = self._counts(conn, name)
        return self._study_record(row, counts.get(name, {}))

    def counts(self, study: str) -> dict[Status, int]:
        """How many configs are in each status (every ``Status`` is a key)."""
        with self._transaction(write=False) as conn:
            self._require_study(conn, study)
            counts = self._counts(conn, study).get(study, {})
        return {s: counts.get(s, 0) for s in Status}

    def configs(self, study: str) -> list[ConfigRow]:
        """Every config of the study with its status and outcome, in insertion order."""
        with self._transaction(write=False) as conn:
            self._require_study(conn, study)
            rows = conn.execute(
                "SELECT c.*, CASE WHEN c.status = 'running' THEN (SELECT COUNT(*) FROM epochs e"
                " WHERE e.study = c.study AND e.config_id = c.id) ELSE c.epochs_run END AS n_epochs"
                " FROM configs c WHERE c.study = ? ORDER BY c.seq",
                (study,),
            ).fetchall()
        return [self._config_row(r) for r in rows]

    @staticmethod
    def _config_row(r: sqlite3.Row) -> ConfigRow:
        status = Status(r["status"])
        # Until a config ends its final metrics do not exist (None); after, NULL means NaN.
        final = _nan if status.is_final else (lambda v: v)
        return ConfigRow(
            id=r["id"], init=r["init"], init_params=_loads(r["init_params"]), optimizer=r["optimizer"],
            hyper=_loads(r["hyper"]), seed=r["seed"], status=status, epochs_run=r["n_epochs"],
            train_loss=final(r["train_loss"]), val_loss=final(r["val_loss"]), val_metric=final(r["val_metric"]),
            diverged_epoch=r["diverged_epoch"], error=r["error"], wall_seconds=r["wall_seconds"],
            started=r["started"], finished=r["finished"],
            test_loss=final(r["test_loss"]), test_metric=final(r["test_metric"]),
        )  # fmt: skip

    def epochs(self, study: str, config_id: str | None = None) -> list[EpochRecord]:
        """Per-epoch metrics (NaN where NULL), by config in insertion order, then by epoch."""
        where, args = ("AND e.config_id = ?", (study, config_id)) if config_id is not None else ("", (study,))
        with self._transaction(write=False) as conn:
            self._require_study(conn, study)
            rows = conn.execute(
                "SELECT e.* FROM epochs e JOIN configs c ON c.study = e.study AND c.id = e.config_id"
                f" WHERE e.study = ? {where} ORDER BY c.seq, e.epoch",
                args,
            ).fetchall()
        return [
            EpochRecord(
                config_id=r["config_id"], epoch=r["epoch"], train_loss=_nan(r["train_loss"]),
                train_metric=_nan(r["train_metric"]), val_loss=_nan(r["val_loss"]), val_metric=_nan(r["val_metric"]),
                seconds=r["seconds"], test_loss=_nan(r["test_loss"]), test_metric=_nan(r["test_metric"]),
            )  # fmt: skip
            for r in rows
        ]

    def runs(self, study: str) -> list[RunRecord]:
        """The invocations that worked on the study, oldest first (``finished`` None: killed or live)."""
        with self._transaction(write=False) as conn:
            self._require_study(conn, study)
            rows = conn.execute("SELECT * FROM runs WHERE study = ? ORDER BY id", (study,)).fetchall()
        return [
            RunRecord(
                id=r["id"], study=r["study"], engine=r["engine"], environment=json.loads(r["environment"]),
                n_configs=r["n_configs"], started=r["started"], finished=r["finished"],
            )  # fmt: skip
            for r in rows
        ]


def open_store(path: str | os.PathLike[str] = DEFAULT_DB) -> SQLiteStore:
    """Open (or create) the results database at ``path``; ``StoreError`` if it cannot be one."""
    return SQLiteStore(path)
