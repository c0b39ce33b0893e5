"""Synthetic studies for the report tests: written straight into a store with exactly the values,
divergences and hostile strings a test needs (no training). Not a test module: it has no tests."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from initopt.study.store import ConfigRecord, EpochRecord, ResultRecord, SQLiteStore, Status

HOSTILE = "<script>alert(1)</script>"


@dataclass
class Run:
    """One configuration of a synthetic study and how it ended."""

    init: str
    optimizer: str
    lr: float
    seed: int
    value: float = math.nan  # final val metric
    status: Status = Status.DONE
    weight_decay: float = 0.0
    losses: Sequence[float] = (0.9, 0.6, 0.4)  # train loss per epoch; val loss is 10% above
    diverged_epoch: int | None = None
    error: str | None = None
    extra: dict | None = None  # more hyperparameters


def write_study(db: Path, name: str, runs: Sequence[Run], *, metric: str = "accuracy", description: str = "",
                environment: dict | None = None) -> Path:
    """A study in ``db`` as if it had been trained: configs, epochs and outcomes from ``runs``."""
    spec = {"name": name, "description": description, "workload": {"dataset": "synthetic"},
            "train": {"epochs": 3, "metric": metric}, "grid": {}}
    with SQLiteStore(db) as store:
        store.begin_study(name, spec, "synthetic", environment or {"device": "cpu", "torch": "test"})
        records = []
        for r in runs:
            hyper = {"lr": r.lr, "weight_decay": r.weight_decay, **(r.extra or {})}
            key = f"{name}|{r.init}|{r.optimizer}|{sorted(hyper.items())}|{r.seed}"
            records.append(ConfigRecord(hashlib.sha256(key.encode()).hexdigest()[:12], r.init, {}, r.optimizer, hyper, r.seed))
        store.add_configs(name, records)
        finished = [(rec, r) for rec, r in zip(records, runs) if r.status is not Status.PENDING]
        store.mark_running(name, [rec.id for rec, _ in finished])
        epochs = []
        for rec, r in finished:
            if r.status is Status.RUNNING:
                continue
            losses = list(r.losses)
            if r.status is Status.DIVERGED:
                epochs_run = r.diverged_epoch or len(losses)
                losses = losses[: epochs_run - 1] + [math.inf]
            epochs += [EpochRecord(rec.id, e, loss, math.nan, loss * 1.1, math.nan, 0.1) for e, loss in enumerate(losses, start=1)]
        store.record_epochs(name, epochs)  # one transaction: a 10,000-configuration study is written in seconds
        results = [
            ResultRecord(rec.id, r.status, len(r.losses), r.losses[-1], r.losses[-1] * 1.1,
                         r.value if r.status is Status.DONE else math.nan, r.diverged_epoch, r.error, 0.5)
            for rec, r in finished if r.status is not Status.RUNNING
        ]
        store.finish(name, results)
    return db


def hostile_runs() -> list[Run]:
    """Strings that would run as script if a renderer forgot to escape them, and every outcome."""
    return [
        Run("<b>bold</b>", "adam", 1e-3, seed, 0.8 + 0.01 * seed, extra={"note": "<i>x</i>"}) for seed in (0, 1)
    ] + [
        Run("he_normal", "sgd", 0.1, 0, 0.7),
        Run("he_normal", "sgd", 0.1, 1, 0.72),
        Run("he_normal", "sgd", 10.0, 0, status=Status.DIVERGED, diverged_epoch=2),
        Run("he_normal", "sgd", 10.0, 1, status=Status.FAILED, error=f"{HOSTILE}\nsecond line"),
    ]


def big_study_runs(inits: int = 5, lrs: int = 20, decays: int = 10, seeds: int = 5) -> list[Run]:
    """A 10,000-configuration study (by default: 5 inits x adam/adamw x 20 lrs x 10 weight decays x 5
    seeds): a smooth score over lr and weight decay plus seed noise, the largest lrs diverging on some seeds."""
    import random

    rng = random.Random(0)
    runs = []
    for i in range(inits):
        for opt in ("adam", "adamw"):
            for a in range(lrs):
                lr = 1e-4 * 10 ** (3 * a / (lrs - 1))
                for b in range(decays):
                    wd = 0.0 if b == 0 else 10 ** (-5 + 4 * b / (decays - 1))
                    for seed in range(seeds):
                        if lr > 0.05 and rng.random() < 0.3:
                            runs.append(Run(f"init{i}", opt, lr, seed, status=Status.DIVERGED, diverged_epoch=2, weight_decay=wd))
                            continue
                        score = 0.95 - 0.02 * (math.log10(lr) + 2.5) ** 2 - 0.1 * wd - 0.003 * i + rng.gauss(0, 0.004)
                        runs.append(Run(f"init{i}", opt, lr, seed, score, weight_decay=wd))
    return runs

