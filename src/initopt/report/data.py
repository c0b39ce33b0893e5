"""The records a report is made of: what is read from the store, and what each section shows.

Compute, then render: ``load_study`` reads a study into ``StudyData``; ``sections.build_report`` turns
it into a ``Report`` of plain, frozen records (numbers and strings, no matplotlib, no HTML); the
renderers (``plots``, ``html``, ``markdown``, ``text``) only draw them.

A *candidate* is a point of the grid without its seed: init x optimizer variant x lr x weight decay.
Its seeds are the repetitions over which means, spreads, intervals and tests are taken.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from initopt.study.store import ConfigRow, EpochRecord, RunRecord, Status
from initopt.study.summary import LOWER_IS_BETTER, optimizer_label
from initopt.report import stats
from initopt.report.importance import ImportanceResult


@dataclass(frozen=True)
class StudyData:
    """One study as the store holds it, with its configurations and every epoch of each."""

    name: str
    description: str
    db: str
    spec: dict[str, Any]
    environment: dict[str, Any]
    created: str
    updated: str
    metric: str  # the validation metric the study ranks by, e.g. "accuracy"
    lower_is_better: bool
    configs: tuple[ConfigRow, ...]  # a finished one's values are its selected epoch's (``select_epochs``)
    epochs: Mapping[str, tuple[EpochRecord, ...]]  # config id -> its epochs, in order
    runs: tuple[RunRecord, ...]
    selects_on: str = "validation"  # or "test": a study without a validation split (written before them)
    rank_by: str = "final"  # or "best": each configuration's best validation epoch
    selected_epoch: Mapping[str, int] = field(default_factory=dict)  # config id -> the epoch its values are from

    @property
    def no_decay(self) -> tuple[str, ...]:
        """The parameters the study's weight decay left alone (``train.no_decay``); none for a study
        written before the field (every parameter decayed)."""
        return tuple((self.spec.get("train") or {}).get("no_decay", ()))

    @property
    def selection_label(self) -> str:
        """``final validation accuracy``, ``best-epoch validation accuracy``, ``final test accuracy``."""
        return f"{'best-epoch' if self.rank_by == 'best' else 'final'} {self.selects_on} {self.metric}"

    def count(self, status: Status) -> int:
        return sum(c.status is status for c in self.configs)

    def inits(self) -> list[str]:
        """Init labels in the spec's order (the store keeps configurations in grid order)."""
        return list(dict.fromkeys(c.init for c in self.configs))

    def optimizers(self) -> list[str]:
        """Optimizer variant labels (``variant_label``) in the spec's order."""
        return list(dict.fromkeys(variant_label(c) for c in self.configs))


def load_study(db: str | Path, study: str | None = None) -> StudyData:
    """Read ``study`` (or the only study in ``db``) with its configurations, epochs and runs."""
    from initopt.study.export import resolve_study
    from initopt.study.store import SQLiteStore

    path = Path(db)
    if not path.is_file():
        raise ValueError(f"--db {db}: no such database file (run a study first, or pass --db)")
    with SQLiteStore(path) as store:
        try:
            name = resolve_study(store, study)
        except ValueError as exc:
            raise ValueError(f"--study: {exc}" if study else str(exc)) from None
        record = store.study(name)
        configs = tuple(store.configs(name))
        runs = tuple(store.runs(name))
        spec = record.spec or {}
        train = spec.get("train") or {}
        rank_by = str(train.get("rank_by") or "final")
        if rank_by == "best":  # every epoch decides which one scores
            by_config: dict[str, list[EpochRecord]] = {}
            for row in store.epochs(name):
                by_config.setdefault(row.config_id, []).append(row)
            epochs: Mapping[str, tuple[EpochRecord, ...]] = {k: tuple(sorted(v, key=lambda e: e.epoch)) for k, v in by_config.items()}
        else:
            epochs = StoredEpochs(path, name, [c.id for c in configs])
    metric = str(train.get("metric") or "metric")
    selects_on = "test" if not train.get("validation") else "validation"  # absent: written before validation splits
    configs, selected = select_epochs(configs, epochs, rank_by, metric in LOWER_IS_BETTER, selects_on == "test")
    return StudyData(
        name=record.name, description=str(spec.get("description") or ""), db=str(path), spec=spec,
        environment=dict(record.environment or {}), created=record.created, updated=record.updated,
        metric=metric, lower_is_better=metric in LOWER_IS_BETTER, configs=configs, epochs=epochs, runs=runs,
        selects_on=selects_on, rank_by=rank_by, selected_epoch=selected,
    )


class StoredEpochs(Mapping[str, tuple[EpochRecord, ...]]):
    """Each configuration's epochs, read from the study's file the first time they are asked for: a
    report draws the curves of a few configurations, and reading every epoch of a 10,000-configuration
    study (100,000 rows) was most of the time it took to load."""

    def __init__(self, db: Path, study: str, ids: list[str]) -> None:
        self._db, self._study, self._ids, self._read = db, study, dict.fromkeys(ids), {}

    def __getitem__(self, config_id: str) -> tuple[EpochRecord, ...]:
        if config_id not in self._ids:
            raise KeyError(config_id)
        if config_id not in self._read:
            from initopt.study.store import SQLiteStore

            with SQLiteStore(self._db) as store:
                self._read[config_id] = tuple(store.epochs(self._study, config_id))
        return self._read[config_id]

    def __iter__(self):
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


def select_epochs(configs: tuple[ConfigRow, ...], epochs: Mapping[str, tuple[EpochRecord, ...]], rank_by: str,
                  lower_is_better: bool, on_test: bool) -> tuple[tuple[ConfigRow, ...], dict[str, int]]:
    """Each finished configuration's values taken from its selected epoch: the last (``final``), or the
    one with the best validation metric (``best``; the earliest of equals), the test values from that
    same epoch. The one place the epoch a score comes from is decided.

    ``on_test``: a study without a validation split, whose validation values are the test split's (the
    test values are then those numbers too)."""
    out, selected = [], {}
    sign = 1.0 if lower_is_better else -1.0
    for row in configs:
        if row.status is Status.DONE:
            finite = [e for e in epochs.get(row.id, ()) if math.isfinite(e.val_metric)] if rank_by == "best" else []
            if finite:
                best = min(finite, key=lambda e: (sign * e.val_metric, e.epoch))
                row = replace(row, val_loss=best.val_loss, val_metric=best.val_metric, test_loss=best.test_loss,
                              test_metric=best.test_metric)
                selected[row.id] = best.epoch
            else:  # the configuration's final values, as the store keeps them
                selected[row.id] = row.epochs_run
            if on_test:
                row = replace(row, test_loss=row.val_loss, test_metric=row.val_metric)
        out.append(row)
    return tuple(out), selected


def variant_label(row: ConfigRow) -> str:
    """The optimizer without its lr and weight decay: ``sgd momentum=0.9``, ``adamw decay=independent``.

    Learning rate and weight decay are the report's own axes (leaderboard columns, heatmaps), so the
    label names every other hyperparameter that differs from PyTorch's default.
    """
    return _variant_label(row.optimizer, tuple((k, v) for k, v in row.hyper.items() if k not in ("lr", "weight_decay")))


@functools.lru_cache(maxsize=4096)
def _variant_label(optimizer: str, hyper: tuple) -> str:
    """``variant_label`` of one optimizer and its hyperparameters, in their stored order (a study has a
    handful of them, seen once per configuration: 10,000 times in a big study)."""
    return optimizer_label(optimizer, dict(hyper))


# ---------------------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Candidate:
    """A grid point over its seeds: the final validation metric's mean, spread and 95% interval.

    ``values`` are the final metrics of the seeds that finished (status done, finite value);
    diverged and failed seeds are counted, not averaged in.
    """

    init: str
    optimizer: str  # variant_label: family plus non-default hyperparameters other than lr and wd
    family: str
    lr: float
    weight_decay: float
    seeds: tuple[int, ...]
    config_ids: tuple[str, ...]
    values: tuple[float, ...]
    val_losses: tuple[float, ...]
    n_diverged: int
    n_failed: int
    n_unfinished: int  # pending or running: a study still in progress
    diverged_epochs: tuple[int, ...]
    mean: float
    std: float
    ci_low: float
    ci_high: float
    # the test split's metric of the same seeds and epochs: reported, never used to choose
    test_values: tuple[float, ...] = ()
    test_mean: float = math.nan
    test_std: float = math.nan
    test_ci_low: float = math.nan
    test_ci_high: float = math.nan

    @property
    def key(self) -> tuple[str, str, float, float]:
        return (self.init, self.optimizer, self.lr, self.weight_decay)

    @property
    def n_bad(self) -> int:
        """Seeds that ended without a usable result (diverged or failed)."""
        return self.n_diverged + self.n_failed

    @property
    def label(self) -> str:
        return f"{self.init} + {self.optimizer}, lr={self.lr:g}, weight_decay={self.weight_decay:g}"

    @property
    def short_label(self) -> str:
        return f"{self.init} + {self.optimizer} lr={self.lr:g}" + (f" wd={self.weight_decay:g}" if self.weight_decay else "")


# where a metric can lie; intervals are cut to it
METRIC_RANGES = {"accuracy": (0.0, 1.0), "mse": (0.0, math.inf), "rmse": (0.0, math.inf), "perplexity": (1.0, math.inf)}


def make_candidates(configs: tuple[ConfigRow, ...], metric: str | None = None) -> list[Candidate]:
    """Group configurations over seeds (first-seen order; ``rank`` sorts them); grid points whose seeds
    were all pruned by successive halving are left out.

    The interval is Student's t over seeds, cut to the metric's range (``METRIC_RANGES``): with 2
    seeds it is +-12.7 s/sqrt(2) and would otherwise say an accuracy might be 2.1.
    """
    floor, ceiling = METRIC_RANGES.get(metric or "", (-math.inf, math.inf))
    groups: dict[tuple[str, str, float, float], list[ConfigRow]] = {}
    for row in configs:
        key = (row.init, variant_label(row), float(row.lr or 0.0), float(row.weight_decay or 0.0))
        groups.setdefault(key, []).append(row)
    out = []
    for (init, variant, lr, wd), rows in groups.items():
        if all(r.status is Status.PRUNED for r in rows):
            continue  # stopped by successive halving: the ladder counts them, no ranking does
        rows = sorted(rows, key=lambda r: r.seed)
        done = [r for r in rows if r.status is Status.DONE and r.val_metric is not None and math.isfinite(r.val_metric)]
        values = tuple(float(r.val_metric) for r in done)
        mean, std, low, high = _spread(values, floor, ceiling)
        tests = tuple(float(r.test_metric) for r in done if r.test_metric is not None and math.isfinite(r.test_metric))
        test_mean, test_std, test_low, test_high = _spread(tests, floor, ceiling)
        out.append(Candidate(
            init=init, optimizer=variant, family=rows[0].optimizer, lr=lr, weight_decay=wd,
            seeds=tuple(r.seed for r in rows), config_ids=tuple(r.id for r in rows), values=values,
            val_losses=tuple(stats.finite([r.val_loss for r in done])),
            n_diverged=sum(r.status is Status.DIVERGED for r in rows), n_failed=sum(r.status is Status.FAILED for r in rows),
            n_unfinished=sum(r.status in (Status.PENDING, Status.RUNNING) for r in rows),
            diverged_epochs=tuple(r.diverged_epoch for r in rows if r.status is Status.DIVERGED and r.diverged_epoch is not None),
            mean=mean, std=std, ci_low=low, ci_high=high, test_values=tests, test_mean=test_mean, test_std=test_std,
            test_ci_low=test_low, test_ci_high=test_high,
        ))
    return out


def _spread(values: tuple[float, ...], floor: float, ceiling: float) -> tuple[float, float, float, float]:
    """Mean, std and the 95% t interval over seeds, the interval cut to the metric's range."""
    mean, std = stats.mean_std(values)
    low, high = stats.t_interval(values)
    low, high = (max(low, floor), min(high, ceiling)) if values and len(values) > 1 else (low, high)
    return mean, std, low, high


def rank_key(candidate: Candidate, lower_is_better: bool) -> tuple:
    """Sort key, best first: a result at all, then fewest diverged or failed seeds, then the mean.

    A candidate that lost a seed to divergence is ranked after every one that lost none: its mean is
    over the seeds that survived, which flatters it. Ties in the mean go to the smaller lr (less risk).
    """
    has_result = not math.isnan(candidate.mean)
    score = candidate.mean if has_result else 0.0
    return (not has_result, candidate.n_bad, score if lower_is_better else -score, candidate.lr, candidate.weight_decay)


def rank(candidates: list[Candidate], lower_is_better: bool) -> list[Candidate]:
    return sorted(candidates, key=lambda c: rank_key(c, lower_is_better))


def ranked_candidates(study: StudyData) -> list[Candidate]:
    """The study's candidates, best first: the one ranking behind the terminal table, the report's
    recommendation and leaderboard, and the exports' ``rank``."""
    return rank(make_candidates(study.configs, study.metric), study.lower_is_better)


def config_of(study: StudyData, candidate: Candidate) -> ConfigRow:
    """One stored configuration of ``candidate``: its first seed that finished, else its first."""
    by_id = {c.id: c for c in study.configs if c.id in candidate.config_ids}
    rows = [by_id[i] for i in candidate.config_ids if i in by_id]
    return next((r for r in rows if r.status is Status.DONE), rows[0])


def best_per_group(ranked: list[Candidate], key=lambda c: (c.init, c.optimizer, c.weight_decay)) -> list[tuple[Candidate, list[Candidate]]]:
    """Per group (by default init x optimizer x weight decay: the terminal table's rows), its best
    candidate (the first in ``ranked``) and all of its candidates, in the order of their best."""
    groups: dict = {}
    for c in ranked:
        groups.setdefault(key(c), []).append(c)
    return [(members[0], members) for members in groups.values()]


# ------------------------------------------------------------------------------------ section records


@dataclass(frozen=True)
class Comparison:
    """The best candidate against another, by Welch's t-test over their seeds."""

    other: Candidate
    difference: float  # best.mean - other.mean, in metric units
    t: float
    df: float
    p_value: float
    told_apart: bool  # p < ALPHA: the difference is unlikely to be seed noise alone


@dataclass(frozen=True)
class Recommendation:
    best: Candidate | None
    runner_up: Comparison | None
    ties: tuple[Candidate, ...]  # every other candidate Welch's test cannot tell from the best
    n_candidates: int
    n_seeds: int
    verdict: str  # one or two plain sentences a person can act on
    per_optimizer: tuple[Candidate, ...] = ()  # the best grid point of each optimizer, in the spec's order


@dataclass(frozen=True)
class Heatmap:
    """A table of numbers drawn as coloured cells; NaN cells are blank ("no finished run")."""

    title: str
    row_label: str
    col_label: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    notes: tuple[tuple[str, ...], ...]  # text written in each cell
    value_label: str  # the colour bar's label
    higher_is_better: bool = True  # the colour map runs so that "better" is always the bright end
    kind: str = "metric"  # "metric" or "fraction" (divergence: 0 to 1)
    value_range: tuple[float, float] | None = None  # the colour scale (shared by heatmaps meant to be compared)
    marked: tuple[tuple[bool, ...], ...] = ()  # cells within seed noise of the study's best (outlined)
    keys: tuple[tuple[tuple | None, ...], ...] = ()  # each cell's candidate (``Candidate.key``), None where empty


@dataclass(frozen=True)
class Curve:
    """One candidate's loss per epoch: the mean over seeds and the band from the lowest to the highest."""

    label: str
    epochs: tuple[int, ...]
    train_mean: tuple[float, ...]
    train_low: tuple[float, ...]
    train_high: tuple[float, ...]
    val_mean: tuple[float, ...]
    val_low: tuple[float, ...]
    val_high: tuple[float, ...]
    n_seeds: int


@dataclass(frozen=True)
class CurvePanel:
    title: str
    curves: tuple[Curve, ...]


@dataclass(frozen=True)
class SensitivityLine:
    """Final metric against lr for one init under one optimizer (best weight decay at each lr)."""

    init: str
    lrs: tuple[float, ...]
    means: tuple[float, ...]  # NaN where no seed finished
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    diverged: tuple[int, ...]  # diverged seeds at each lr
    seeds: tuple[int, ...]  # seeds tried at each lr


@dataclass(frozen=True)
class SensitivityPanel:
    optimizer: str
    lines: tuple[SensitivityLine, ...]


@dataclass(frozen=True)
class DivergedRun:
    init: str
    optimizer: str
    lr: float
    weight_decay: float
    seed: int
    epoch: int | None  # the epoch whose loss went non-finite
    status: str  # "diverged" or "failed"
    error: str | None = None


@dataclass(frozen=True)
class Timing:
    total_config_seconds: float  # sum of every configuration's wall time (bundles overlap them)
    study_seconds: float | None  # first run's start to last run's end, when both are known
    runs: tuple[RunRecord, ...]
    counts: tuple[tuple[str, int], ...]  # status -> configurations


@dataclass(frozen=True)
class Rung:
    """One rung of successive halving: the configurations (and settings) that trained through ``epoch``,
    and how many of them trained on past it."""

    epoch: int
    reached: int
    settings: int
    went_on: int


@dataclass(frozen=True)
class LadderSummary:
    """A halving study's ladder: its rungs (the last one: the final epoch), how many configurations were
    pruned, how many finished (every epoch, done; or diverged on the way) and the sentence that says
    what the other sections stand on."""

    rungs: tuple[Rung, ...]
    pruned: int
    finished: int
    note: str


@dataclass(frozen=True)
class TransferLine:
    """One width's objective against the learning rate (the best over the other settings at each lr)."""

    width: int
    lrs: tuple[float, ...]
    means: tuple[float, ...]
    best_lr: float
    best: float


@dataclass(frozen=True)
class TransferPanel:
    """One parametrization: a line per width, and how far its best lr moves (max over min)."""

    parametrization: str
    lines: tuple[TransferLine, ...]
    moves: float

    @property
    def sentence(self) -> str:
        widths = f"{self.lines[0].width}-{self.lines[-1].width}"
        steps = math.log2(self.moves) if self.moves > 0 else math.nan
        return (f"{self.parametrization}: the best learning rate moves {self.moves:.3g}x across widths {widths}"
                + (f" ({steps:.3g} grid steps of 2x)" if math.isfinite(steps) else ""))


@dataclass(frozen=True)
class Report:
    """Everything a renderer needs, computed once."""

    study: StudyData
    candidates: tuple[Candidate, ...]  # ranked, best first
    recommendation: Recommendation
    heatmap: Heatmap | None
    lr_wd: tuple[Heatmap, ...]  # one per optimizer with a grid over both lr and weight decay
    curves: tuple[CurvePanel, ...]
    sensitivity: tuple[SensitivityPanel, ...]
    divergence: Heatmap | None
    diverged_runs: tuple[DivergedRun, ...]
    importance: ImportanceResult
    importance_note: str
    timing: Timing
    notes: tuple[str, ...] = field(default_factory=tuple)  # warnings for the reader (unfinished runs, ...)
    ladder: LadderSummary | None = None  # a study with successive halving
    transfer: tuple[TransferPanel, ...] = ()  # a study with a width axis: one panel per parametrization

    @property
    def metric_title(self) -> str:
        arrow = "lower is better" if self.study.lower_is_better else "higher is better"
        return f"{self.study.selection_label} ({arrow})"
