"""The ranked summary of a study: per init x optimizer, the best learning rate and its spread over seeds.

Compute, then render: ``summarize`` returns plain records; the CLI draws them with rich.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from initopt.study.spec import OPTIMIZER_DEFAULTS
from initopt.study.store import ConfigRow, Status

LOWER_IS_BETTER = ("mse", "rmse", "perplexity", "loss")


@dataclass(frozen=True)
class SummaryRow:
    init: str
    optimizer: str  # the family plus any non-default hyperparameter other than lr and wd, e.g. "sgd momentum=0.9"
    weight_decay: float
    best_lr: float
    metric_mean: float
    metric_std: float
    loss_mean: float
    loss_std: float
    seeds: int
    diverged: int  # over every lr and seed of this init x optimizer
    runs: int
    failed: int
    test_mean: float = math.nan  # the test metric of the same runs: reported, never ranked on
    test_std: float = math.nan


def optimizer_label(row: ConfigRow, omit: tuple[str, ...] = ("lr",)) -> str:
    """The family plus every hyperparameter not in ``omit`` that differs from its default:
    ``sgd momentum=0.9``, ``adam weight_decay=1e-04``."""
    from initopt.report.fmt import hyper

    defaults = OPTIMIZER_DEFAULTS.get(row.optimizer, {})
    extras = []
    for key, value in row.hyper.items():
        default = defaults.get(key)
        same = list(value) == list(default) if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)) else value == default
        if key not in omit and not same:
            extras.append(f"{key}={hyper(value)}" if isinstance(value, float) else f"{key}={value}")
    return " ".join([row.optimizer, *extras])


def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    return statistics.fmean(finite), statistics.stdev(finite) if len(finite) > 1 else 0.0


def summarize(rows: Iterable[ConfigRow], metric: str = "accuracy") -> list[SummaryRow]:
    """One row per init x optimizer x weight decay, best first. The best lr has the fewest diverged seeds,
    then the best mean."""
    lower_better = metric in LOWER_IS_BETTER
    groups: dict[tuple[str, str, float], dict[float, list[ConfigRow]]] = {}
    for row in rows:
        if row.status in (Status.PENDING, Status.RUNNING):
            continue
        key = (row.init, optimizer_label(row, omit=("lr", "weight_decay")), float(row.weight_decay or 0.0))
        groups.setdefault(key, {}).setdefault(float(row.hyper["lr"]), []).append(row)
    out = []
    for (init, optimizer, weight_decay), by_lr in groups.items():
        def score(item):
            lr, members = item
            bad = sum(m.status is not Status.DONE for m in members)
            mean, _ = _mean_std([m.val_metric for m in members if m.status is Status.DONE])
            mean = -math.inf if math.isnan(mean) else (-mean if lower_better else mean)
            return (-bad, mean, -lr)

        best_lr, members = max(by_lr.items(), key=score)
        done = [m for m in members if m.status is Status.DONE]
        metric_mean, metric_std = _mean_std([m.val_metric for m in done])
        loss_mean, loss_std = _mean_std([m.val_loss for m in done])
        test_mean, test_std = _mean_std([m.test_metric for m in done if m.test_metric is not None])
        every = [m for ms in by_lr.values() for m in ms]
        out.append(SummaryRow(init, optimizer, weight_decay, best_lr, metric_mean, metric_std, loss_mean, loss_std, len(members),
                              sum(m.status is Status.DIVERGED for m in every), len(every),
                              sum(m.status is Status.FAILED for m in every), test_mean, test_std))

    def rank(row: SummaryRow):
        value = row.metric_mean
        if math.isnan(value):
            return (1, 0.0)
        return (0, value if lower_better else -value)

    return sorted(out, key=rank)
