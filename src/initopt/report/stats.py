"""The statistics of a report: means with confidence intervals over seeds, Welch's t-test.

Small pure functions on lists of floats; the records that carry their results live in ``data.py``.
Student's t distribution comes from SciPy (a dependency of scikit-learn, so always present). The
importance (fANOVA) is in ``importance.py``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95  # the level of every interval in a report
ALPHA = 1 - CONFIDENCE  # a difference is "told apart" when Welch's p-value is below this


def finite(values: Sequence[float | None]) -> list[float]:
    """The values that are real numbers (not None, NaN or infinite)."""
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Sample mean and sample standard deviation (Bessel's n - 1); std 0 for one value, NaN for none.

    Two passes with ``math.fsum`` (correctly rounded sums): ``statistics.stdev`` computes exactly in
    fractions, and took most of a 10,000-configuration report's statistics."""
    if not values:
        return math.nan, math.nan
    mean = math.fsum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


@functools.lru_cache(maxsize=1024)
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
