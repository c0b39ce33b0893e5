"""The statistics of a report: means with confidence intervals over seeds, Welch's t-test, importance.

Small pure functions on lists of floats; the records that carry their results live in ``data.py``.
Student's t distribution comes from SciPy (a dependency of scikit-learn, so always present); the
variance decomposition (fANOVA) from Optuna, imported lazily: without it the report says so and
leaves that section out.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CONFIDENCE = 0.95  # the level of every interval in a report
ALPHA = 1 - CONFIDENCE  # a difference is "told apart" when Welch's p-value is below this
FANOVA_TREES = 64  # optuna's default forest size; fANOVA averages the decomposition over these trees
FANOVA_SEED = 0  # the forest is random: a fixed seed makes a report reproducible
MIN_IMPORTANCE_RUNS = 4  # below this a forest of regression trees has nothing to split


def finite(values: Sequence[float | None]) -> list[float]:
    """The values that are real numbers (not None, NaN or infinite)."""
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Sample mean and sample standard deviation (Bessel's n - 1); std 0 for one value, NaN for none."""
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom (SciPy)."""
    from scipy.stats import t

    return float(t.ppf(p, df))


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Confidence interval of the mean of ``values`` (seeds as independent draws).

    ``mean +- t_{n-1, (1+c)/2} * s / sqrt(n)`` (Student 1908). With 3 seeds ``t_{2, 0.975} = 4.30``:
    the interval is wide, and honestly so. One value gives ``(nan, nan)``: its spread is unknown.
    """
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    mean, std = mean_std(values)
    half = t_quantile((1 + confidence) / 2, n - 1) * std / math.sqrt(n)
    return mean - half, mean + half


@dataclass(frozen=True)
class WelchResult:
    """Welch's unequal-variance t-test of two samples: statistic, degrees of freedom, two-sided p."""

    t: float
    df: float
    p_value: float


def welch_t_test(a: Sequence[float], b: Sequence[float]) -> WelchResult:
    """Two-sided test of ``mean(a) == mean(b)`` without assuming equal variances (Welch 1947).

    ``t = (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b)``, with the Welch-Satterthwaite degrees of
    freedom ``df = (v_a + v_b)^2 / (v_a^2/(n_a-1) + v_b^2/(n_b-1))``, ``v = s^2/n``. Equals
    ``scipy.stats.ttest_ind(a, b, equal_var=False)`` (the tests check it). When neither sample varies
    (common with accuracies on a small validation set) there is no estimate of the noise, so no test:
    every field is NaN, as with fewer than two values on a side.
    """
    if len(a) < 2 or len(b) < 2:
        return WelchResult(math.nan, math.nan, math.nan)
    (mean_a, std_a), (mean_b, std_b) = mean_std(a), mean_std(b)
    var_a, var_b = std_a**2 / len(a), std_b**2 / len(b)
    if var_a + var_b == 0:  # no spread on either side: the data cannot say how large seed noise is
        return WelchResult(math.nan, math.nan, math.nan)
    t = (mean_a - mean_b) / math.sqrt(var_a + var_b)
    df = (var_a + var_b) ** 2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
    from scipy.stats import t as student

    return WelchResult(t, df, float(2 * student.sf(abs(t), df)))


# ---------------------------------------------------------------------------------------- importance


@dataclass(frozen=True)
class ImportanceResult:
    """Shares of the variance of the final metric that fANOVA gives each parameter (they sum to 1)."""

    shares: tuple[tuple[str, float], ...]  # largest first
    method: str  # the library and evaluator, named in the report
    n_trials: int
    skipped: str | None = None  # why nothing was computed (too few runs, Optuna missing, ...)


def fanova_importance(trials: Sequence[Mapping[str, Any]], values: Sequence[float]) -> ImportanceResult:
    """How much of the variance of ``values`` each parameter of ``trials`` explains (fANOVA).

    fANOVA (Hutter, Hoos & Leyton-Brown 2014, "An Efficient Approach for Assessing Hyperparameter
    Importance") fits a random forest to ``value ~ parameters`` and splits the variance of its
    prediction into the parts due to each parameter alone (main effects; interactions are not
    shown); shares are normalized to sum to 1. Implemented by
    ``optuna.importance.FanovaImportanceEvaluator``: each configuration becomes a finished Optuna trial.

    Every parameter is categorical, the learning rate included: a study is a grid, and each grid
    value is one level of equal weight. Optuna's fANOVA marginalizes a float parameter over its
    range on a *linear* scale, so a log grid 1e-4 ... 1e-1 given as a float would put three of its
    four values in the bottom tenth of the range and understate the lr: on the additive grid of
    ``test_fanova_agrees_with_anova_on_an_additive_grid`` a log-float lr gets 2% where the classical
    ANOVA (exact there) says 24%; as categories, fANOVA agrees with ANOVA.
    A parameter with one value in the whole study explains nothing and is left out.
    """
    names = [k for k in (trials[0] if trials else {}) if len({t[k] for t in trials}) > 1]
    if len(values) < MIN_IMPORTANCE_RUNS or not names:
        return ImportanceResult((), "fANOVA", len(values), skipped=f"needs at least {MIN_IMPORTANCE_RUNS} scored runs and a parameter that varies")
    if max(values) == min(values):
        return ImportanceResult((), "fANOVA", len(values), skipped="every run reached the same final value: there is no variance to split")
    try:
        import optuna
        from optuna.distributions import CategoricalDistribution
        from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    except ImportError:
        return ImportanceResult((), "fANOVA", len(values), skipped="needs Optuna: pip install optuna")
    distributions = {
        name: CategoricalDistribution(sorted({t[name] for t in trials}, key=lambda v: (isinstance(v, str), v)))
        for name in names
    }
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = optuna.create_study(direction="maximize")
        study.add_trials([
            optuna.trial.create_trial(params={n: t[n] for n in names}, distributions=distributions, value=float(v))
            for t, v in zip(trials, values)
        ])
        evaluator = FanovaImportanceEvaluator(n_trees=FANOVA_TREES, seed=FANOVA_SEED)
        shares = get_param_importances(study, evaluator=evaluator, params=names)
    finally:
        optuna.logging.set_verbosity(previous)
    method = (f"fANOVA main effects by optuna.importance.FanovaImportanceEvaluator (Optuna {optuna.__version__}, "
              f"{FANOVA_TREES} trees, seed {FANOVA_SEED}; grid values as categories)")
    ranked = tuple(sorted(((k, float(v)) for k, v in shares.items()), key=lambda kv: -kv[1]))
    return ImportanceResult(ranked, method, len(values))
