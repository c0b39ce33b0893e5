"""Typed records that go into and come out of a study store: plain Python values, no SQL, no torch.

Writers build ``ConfigRecord``, ``EpochRecord`` and ``ResultRecord``; readers get ``StudyRecord``,
``ConfigRow``, ``EpochRecord`` and ``RunRecord`` back. Missing or non-finite metrics are
``float("nan")`` (SQLite keeps them as NULL); a config's final metrics are ``None`` while it has not
ended yet, so "not run" and "ran and got NaN" stay distinguishable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any


class Status(str, Enum):
    """Where a configuration is in its life: pending -> running -> done | diverged | failed | pruned
    (stopped at a rung of successive halving, with its epochs so far).

    ``running`` found on reopening means the process that ran it died; ``to_run`` hands it out again.
    """

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DIVERGED = "diverged"
    FAILED = "failed"
    PRUNED = "pruned"

    @property
    def is_final(self) -> bool:
        """True for the outcomes ``finish`` writes (done, diverged, failed, pruned)."""
        return self in _FINAL

    def __str__(self) -> str:
        return self.value


FINAL = (Status.DONE, Status.DIVERGED, Status.FAILED, Status.PRUNED)
RUNNABLE = (Status.PENDING, Status.RUNNING)
_FINAL = frozenset(FINAL)


def freeze_json(value: Any) -> Any:
    """Copy a JSON-like value with sequences as tuples, so a record equals itself after a round trip.

    JSON has only arrays; torch spells ``betas`` as a tuple. Storing ``(0.9, 0.999)`` and reading
    back ``[0.9, 0.999]`` would make equal configs compare unequal, so both sides use tuples.
    """
    if isinstance(value, dict):
        return {str(k): freeze_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(freeze_json(v) for v in value)
    return value


@dataclass(frozen=True)
class ConfigRecord:
    """One point of the grid: init scheme, optimizer, hyperparameters, seed.

    ``id`` is a stable content hash the caller computes (the spec module), so adding the same grid
    twice adds nothing. ``hyper`` holds the optimizer's keyword arguments as given (``lr``,
    ``weight_decay``, ``momentum``, ``betas``, ``eps``, ...); the first three also get SQL columns.
    """

    id: str
    init: str
    init_params: dict[str, Any]
    optimizer: str
    hyper: dict[str, Any]
    seed: int

    def __post_init__(self) -> None:
        # Copy the caller's dicts: a frozen record must not change when the caller's dict does.
        object.__setattr__(self, "init_params", freeze_json(dict(self.init_params)))
        object.__setattr__(self, "hyper", freeze_json(dict(self.hyper)))

    @property
    def lr(self) -> float | None:
        return self.hyper.get("lr")

    @property
    def weight_decay(self) -> float | None:
        return self.hyper.get("weight_decay")

    @property
    def momentum(self) -> float | None:
        return self.hyper.get("momentum")


@dataclass(frozen=True)
class EpochRecord:
    """Metrics of one configuration after one epoch (1-based). NaN where absent or non-finite."""

    config_id: str
    epoch: int
    train_loss: float
    train_metric: float = math.nan
    val_loss: float = math.nan
    val_metric: float = math.nan
    seconds: float | None = None
    test_loss: float = math.nan
    test_metric: float = math.nan


@dataclass(frozen=True)
class ResultRecord:
    """The outcome written when a configuration ends. ``status`` must be done, diverged or failed."""

    config_id: str
    status: Status
    epochs_run: int
    train_loss: float = math.nan
    val_loss: float = math.nan
    val_metric: float = math.nan
    diverged_epoch: int | None = None
    error: str | None = None
    wall_seconds: float | None = None
    test_loss: float = math.nan
    test_metric: float = math.nan

    def __post_init__(self) -> None:
        status = Status(self.status)
        if not status.is_final:
            raise ValueError(
                f"ResultRecord.status for config {self.config_id!r} is {status.value!r}; "
                f"a result must be one of {', '.join(s.value for s in FINAL)}"
            )
        object.__setattr__(self, "status", status)


@dataclass(frozen=True)
class StudyRecord:
    """A named study: its spec, the key of what it trains on, where it was created, and its progress.

    ``workload_key`` identifies the data, model and training settings; results under one name are
    only comparable when it is the same. ``counts`` has every ``Status`` (zeros included) when read.
    """

    name: str
    spec: dict[str, Any]
    workload_key: str
    environment: dict[str, Any]
    created: str
    updated: str
    counts: dict[Status, int] = field(default_factory=dict)

    @property
    def n_configs(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class RunRecord:
    """One invocation that worked on a study (a first run or a resume)."""

    id: int
    study: str
    engine: str
    environment: dict[str, Any]
    n_configs: int
    started: str
    finished: str | None


# The columns a table of results shows first, in this order (``ConfigRow.to_dict``).
LEADING_KEYS = (
    "id", "init", "optimizer", "lr", "weight_decay", "seed",
    "status", "epochs_run", "train_loss", "val_loss", "val_metric",
)  # fmt: skip


@dataclass(frozen=True)
class ConfigRow:
    """A configuration with its state and outcome, as ``configs()`` returns it.

    ``epochs_run`` of a running config counts the epochs stored so far. The final metrics are
    ``None`` until the config has ended, NaN when it ended without a finite value.
    """

    id: str
    init: str
    init_params: dict[str, Any]
    optimizer: str
    hyper: dict[str, Any]
    seed: int
    status: Status
    epochs_run: int = 0
    train_loss: float | None = None
    val_loss: float | None = None
    val_metric: float | None = None
    diverged_epoch: int | None = None
    error: str | None = None
    wall_seconds: float | None = None
    started: str | None = None
    finished: str | None = None
    test_loss: float | None = None
    test_metric: float | None = None

    lr = ConfigRecord.lr
    weight_decay = ConfigRecord.weight_decay
    momentum = ConfigRecord.momentum

    @property
    def config(self) -> ConfigRecord:
        return ConfigRecord(self.id, self.init, self.init_params, self.optimizer, self.hyper, self.seed)

    def to_dict(self) -> dict[str, Any]:
        """A flat dict (a DataFrame row): ``LEADING_KEYS`` first, then momentum, outcome and dicts."""
        out: dict[str, Any] = {key: getattr(self, key) for key in LEADING_KEYS}
        out["status"] = self.status.value
        out["momentum"] = self.momentum
        for f in fields(self):
            out.setdefault(f.name, getattr(self, f.name))
        return out


@dataclass(frozen=True)
class Checkpoint:
    """An unfinished bundle's state at the end of an epoch: enough to go on from there.

    ``config_ids`` in the bundle's order; ``state`` is the engine's serialized state (opaque to the store)."""

    bundle: str
    config_ids: tuple[str, ...]
    epoch: int
    state: bytes
