"""Where a study's results live: one SQLite file with studies, configs, per-epoch metrics and runs.

>>> from initopt.study.store import open_store, ConfigRecord, Status
>>> store = open_store("initopt.db")                      # doctest: +SKIP
>>> store.begin_study("adamw-lr", spec, workload_key, env)  # doctest: +SKIP

Imports no torch, so report code can read results anywhere. See ``sqlite.py`` for the crash-safety
argument and ``schema.py`` for the versioned schema.
"""

from initopt.study.store.base import Store
from initopt.study.store.errors import StoreError
from initopt.study.store.records import (
    Checkpoint,
    ConfigRecord,
    ConfigRow,
    EpochRecord,
    ResultRecord,
    RunRecord,
    Status,
    StudyRecord,
)
from initopt.study.store.schema import SCHEMA_VERSION
from initopt.study.store.sqlite import DEFAULT_DB, SQLiteStore, open_store

__all__ = [
    "DEFAULT_DB",
    "SCHEMA_VERSION",
    "Checkpoint",
    "ConfigRecord",
    "ConfigRow",
    "EpochRecord",
    "ResultRecord",
    "RunRecord",
    "SQLiteStore",
    "Status",
    "Store",
    "StoreError",
    "StudyRecord",
    "open_store",
]
