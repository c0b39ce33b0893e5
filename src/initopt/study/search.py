"""Search spaces and strategies of a study: which configurations it trains, and how many epochs each.

A hyperparameter of an optimizer table is a list of values (a grid axis) or a :class:`Distribution`
(``{distribution = "log-uniform", low = 1e-4, high = 1e-1}``); init schemes and optimizer tables stay
choices. The ``[search]`` table (:class:`SearchSettings`) names the strategy:

* ``grid``: every combination (the default; a distribution needs another strategy);
* ``random``, ``sobol``: ``budget`` configurations (settings x seeds) drawn uniformly at random or
  from a scrambled Sobol sequence (Owen scrambling, ``scipy.stats.qmc``): a pure function of the
  spec and its ``seed``;
* ``tpe``: Optuna's TPE sampler, asked for a bundle's worth of settings at a time and told their
  results (:mod:`initopt.study.adaptive`);
* ``halving``: successive halving (Jamieson & Talwalkar 2016; asynchronous across bundles as ASHA,
  Li et al. 2020) over the configurations of ``sampler`` (grid, random, sobol or tpe): at rungs of
  ``min_epochs * reduction_factor^i`` epochs a bundle keeps the best ``1 / reduction_factor`` of the
  settings that reached the rung (the seeds of a setting ranked by their mean), and the rest stop,
  *pruned*.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from initopt._suggest import is_number, is_whole_number

STRATEGIES = ("grid", "random", "sobol", "tpe", "halving")
SAMPLERS = ("grid", "random", "sobol", "tpe")
KINDS = ("log-uniform", "uniform", "int", "choice")
SEARCH_KEYS = ("strategy", "sampler", "reduction_factor", "min_epochs", "budget", "budget_epochs", "seed")


@dataclass(frozen=True)
class Distribution:
    """Where a sampled hyperparameter's values come from: ``log-uniform`` and ``uniform`` over
    ``[low, high]``, ``int`` over the whole numbers ``low..high`` (log-spaced with ``log = true``),
    ``choice`` among ``values``."""

    kind: str
    low: float = 0.0
    high: float = 0.0
    values: tuple = ()
    log: bool = False

    def value(self, u: float) -> Any:
        """The value at quantile ``u`` in ``[0, 1)``: a uniform ``u`` gives a draw of this distribution."""
        if self.kind == "choice":
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        if self.kind == "log-uniform":
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        if self.kind == "uniform":
            return self.low + u * (self.high - self.low)
        if self.log:  # int: each whole number n of [low, high] with the weight of log(n + 1) - log(n)
            edge = math.exp(math.log(self.low) + u * (math.log(self.high + 1) - math.log(self.low)))
            return int(min(self.high, max(self.low, math.floor(edge))))
        return int(min(self.high, self.low + math.floor(u * (self.high - self.low + 1))))

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"distribution": "choice", "values": list(self.values)}
        out: dict[str, Any] = {"distribution": self.kind, "low": self.low, "high": self.high}
        return {**out, "log": True} if self.log else out


@dataclass(frozen=True)
class SearchSettings:
    """The ``[search]`` table: the strategy, for halving the sampler of its entrants and its ladder, the
    budget (configurations, or configuration-epochs) and the seed of the sampling."""

    strategy: str = "grid"
    sampler: str = "grid"
    reduction_factor: int = 3
    min_epochs: int = 1
    budget: int | None = None
    budget_epochs: int | None = None
    seed: int = 0

    @property
    def sampling(self) -> str:
        """How the entrants are chosen: the strategy, or for halving its sampler."""
        return self.sampler if self.strategy == "halving" else self.strategy

    @property
    def halving(self) -> bool:
        return self.strategy == "halving"

    def rungs(self, epochs: int) -> list[int]:
        """The epochs after which halving decides: ``min_epochs * eta^i`` below the last epoch."""
        if not self.halving:
            return []
        out, rung = [], self.min_epochs
        while rung < epochs:
            out.append(rung)
            rung *= self.reduction_factor
        return out

    def expected_epochs(self, epochs: int) -> float:
        """Epochs an entrant trains on average when each rung keeps ``1 / eta``: what a budget in
        configuration-epochs buys per configuration."""
        total, kept, last = 0.0, 1.0, 0
        for rung in [*self.rungs(epochs), epochs]:
            total += kept * (rung - last)
            kept, last = kept / self.reduction_factor, rung
        return total

    def n_configs(self, epochs: int) -> int | None:
        """Configurations the budget buys (None: the whole grid)."""
        if self.budget is not None:
            return self.budget
        if self.budget_epochs is not None:
            return max(1, int(self.budget_epochs // self.expected_epochs(epochs)))
        return None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"strategy": self.strategy, "seed": self.seed}
        if self.halving:
            out.update(sampler=self.sampler, reduction_factor=self.reduction_factor, min_epochs=self.min_epochs)
        if self.budget is not None:
            out["budget"] = self.budget
        if self.budget_epochs is not None:
            out["budget_epochs"] = self.budget_epochs
        return out


def parse_distribution(value: Mapping[str, Any], label: str, fail, check: Callable[[Any], None]) -> Distribution:
    """A ``{distribution = ...}`` table, checked: bounds in order, a log scale over positive numbers
    only; ``check(v)`` validates a value as the hyperparameter takes it (the bounds, each choice)."""
    kind = str(value.get("distribution", "")).strip().lower()
    allowed = {"log-uniform": ("low", "high"), "uniform": ("low", "high"), "int": ("low", "high", "log"),
               "choice": ("values",)}
    if kind not in allowed:
        raise fail(label, f"distribution must be one of {', '.join(KINDS)}, got {value.get('distribution')!r}")
    for key in value:
        if key != "distribution" and key not in allowed[kind]:
            raise fail(f"{label}.{key}", f"a {kind} distribution takes {', '.join(allowed[kind])}")
    if kind == "choice":
        values = value.get("values")
        if not isinstance(values, list) or not values:
            raise fail(f"{label}.values", "a choice needs a non-empty list of values")
        for v in values:
            check(v)
        return Distribution("choice", values=tuple(dict.fromkeys(tuple(v) if isinstance(v, list) else v for v in values)))
    low, high = value.get("low"), value.get("high")
    for key, bound in (("low", low), ("high", high)):
        if not is_number(bound) or not math.isfinite(bound):
            raise fail(f"{label}.{key}", f"expected a finite number, got {bound!r}")
    if not low < high:
        raise fail(label, f"low must be below high, got low = {low!r}, high = {high!r}")
    log = value.get("log", False)
    if not isinstance(log, bool):
        raise fail(f"{label}.log", f"expected true or false, got {log!r}")
    if kind == "int" and not (is_whole_number(low) and is_whole_number(high)):
        raise fail(label, f"an int distribution needs whole-number bounds, got low = {low!r}, high = {high!r}")
    if (kind == "log-uniform" or log) and low <= 0:
        raise fail(f"{label}.low", f"a log scale needs low > 0, got {low!r}")
    check(low)
    check(high)
    return Distribution(kind, float(low) if kind != "int" else int(low), float(high) if kind != "int" else int(high),
                        log=log)


def parse_search(table: Any, fail) -> SearchSettings:
    if table is None:
        return SearchSettings()
    if not isinstance(table, Mapping):
        raise fail("search", f"expected a table (strategy, budget, seed, ...), got {table!r}")
    for key in table:
        if key not in SEARCH_KEYS:
            raise fail(f"search.{key}", f"unknown key; valid: {', '.join(SEARCH_KEYS)}")
    strategy = str(table.get("strategy", "grid")).strip().lower()
    if strategy not in STRATEGIES:
        raise fail("search.strategy", f"expected one of {', '.join(STRATEGIES)}, got {table.get('strategy')!r}")
    sampler = str(table.get("sampler", "grid")).strip().lower()
    if sampler not in SAMPLERS:
        raise fail("search.sampler", f"expected one of {', '.join(SAMPLERS)}, got {table.get('sampler')!r}")
    if "sampler" in table and strategy != "halving":
        raise fail("search.sampler", f"the sampler picks halving's entrants; strategy {strategy!r} samples by itself")
    whole = {}
    for key, default, least in (("reduction_factor", 3, 2), ("min_epochs", 1, 1), ("seed", 0, 0)):
        v = table.get(key, default)
        if not is_whole_number(v) or v < least:
            raise fail(f"search.{key}", f"expected a whole number >= {least}, got {v!r}")
        whole[key] = int(v)
    budgets = {}
    for key in ("budget", "budget_epochs"):
        v = table.get(key)
        if v is not None and (not is_whole_number(v) or v < 1):
            raise fail(f"search.{key}", f"expected a whole number >= 1, got {v!r}")
        budgets[key] = None if v is None else int(v)
    if budgets["budget"] is not None and budgets["budget_epochs"] is not None:
        raise fail("search.budget", "give budget (configurations) or budget_epochs (configuration-epochs), not both")
    samples = strategy in ("random", "sobol", "tpe") or (strategy == "halving" and sampler != "grid")
    if samples and budgets["budget"] is None and budgets["budget_epochs"] is None:
        raise fail("search.budget", f"{strategy}{' over ' + sampler if strategy == 'halving' else ''} samples "
                                    "configurations: give budget (how many) or budget_epochs")
    if not samples and (budgets["budget"] is not None or budgets["budget_epochs"] is not None):
        raise fail("search.budget", "a grid trains every combination; a budget is for random, sobol, tpe or halving "
                                    "over one of them")
    return SearchSettings(strategy, sampler if strategy == "halving" else strategy, whole["reduction_factor"],
                          whole["min_epochs"], budgets["budget"], budgets["budget_epochs"], whole["seed"])


# --- drawing settings -------------------------------------------------------------------------------


def dimensions(optimizers: Sequence[Mapping[str, Any]], keys: Callable[[Mapping[str, Any]], list[str]]) -> int:
    """Uniforms per setting: one for the init, one for the optimizer table, one per hyperparameter of
    the widest table (a narrower table leaves its last ones unused)."""
    return 2 + max(len(keys(grid)) for grid in optimizers)


def uniforms(kind: str, n: int, d: int, seed: int):
    """``n`` points of ``[0, 1)^d``: independent uniforms (``random``) or a scrambled Sobol sequence
    (``sobol``; its first ``n`` points, balanced best when ``n`` is a power of two)."""
    import numpy as np

    if kind == "sobol":
        import warnings

        from scipy.stats import qmc

        with warnings.catch_warnings():  # "balance properties ... n=2^m": a budget need not be a power of two
            warnings.simplefilter("ignore", UserWarning)
            return qmc.Sobol(d, scramble=True, seed=seed).random(n)
    return np.random.default_rng(seed).random((n, d))


def pick(u: Sequence[float], inits: Sequence[Any], optimizers: Sequence[Mapping[str, Any]],
         keys: Callable[[Mapping[str, Any]], list[str]]) -> tuple[Any, Mapping[str, Any], dict[str, Any]]:
    """The setting at point ``u``: ``(init, optimizer table, {hyperparameter: value})``; a list of values
    is a choice among them."""
    init = inits[min(int(u[0] * len(inits)), len(inits) - 1)]
    grid = optimizers[min(int(u[1] * len(optimizers)), len(optimizers) - 1)]
    values = {}
    for i, key in enumerate(keys(grid)):
        space = grid[key]
        values[key] = space.value(float(u[2 + i])) if isinstance(space, Distribution) else \
            space[min(int(u[2 + i] * len(space)), len(space) - 1)]
    return init, grid, values


def promoted(rung_scores: Mapping[Any, float], candidates: Sequence[Any], eta: int, lower_is_better: bool) -> set:
    """ASHA's rule at one rung: of ``candidates`` (settings of this bundle), those among the best
    ``floor(n / eta)`` of all ``n`` settings that have reached the rung (``rung_scores``: setting ->
    its seeds' mean score there; a non-finite score ranks last). At least one setting goes on."""
    def key(setting):
        score = rung_scores[setting]
        if not math.isfinite(score):
            return (True, 0.0)
        return (False, score if lower_is_better else -score)

    ranked = sorted(rung_scores, key=key)
    top = set(ranked[: max(1, len(ranked) // eta)])
    return {c for c in candidates if c in top}
