"""The statistics against their oracle: SciPy for intervals and Welch's test."""

from __future__ import annotations

import math
import random

import pytest

from initopt.report import stats

scipy_stats = pytest.importorskip("scipy.stats")

# (sample size a, sample size b, scale of b): equal and unequal sizes and spreads, the 2-seed minimum.
WELCH_CASES = [(2, 2, 1.0), (3, 3, 1.0), (3, 5, 4.0), (10, 4, 0.1), (30, 30, 2.0)]


@pytest.mark.parametrize("n", [2, 3, 5, 20])
def test_t_interval_matches_scipy(n):
    rng = random.Random(n)
    values = [rng.gauss(0.8, 0.05) for _ in range(n)]
    low, high = stats.t_interval(values)
    mean = sum(values) / n
    expected = scipy_stats.t.interval(0.95, n - 1, loc=mean, scale=scipy_stats.sem(values))
    assert (low, high) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert low < mean < high


def test_t_interval_needs_two_values():
    assert all(math.isnan(v) for v in stats.t_interval([0.5]))
    assert all(math.isnan(v) for v in stats.t_interval([]))


def test_mean_std_is_bessel_corrected():
    assert stats.mean_std([1.0, 3.0]) == (2.0, math.sqrt(2.0))
    assert stats.mean_std([4.0]) == (4.0, 0.0)
    assert all(math.isnan(v) for v in stats.mean_std([]))


@pytest.mark.parametrize("n_a, n_b, scale", WELCH_CASES)
def test_welch_matches_scipy(n_a, n_b, scale):
    rng = random.Random(n_a * 100 + n_b)
    a = [rng.gauss(0.0, 1.0) for _ in range(n_a)]
    b = [rng.gauss(0.7, scale) for _ in range(n_b)]
    ours = stats.welch_t_test(a, b)
    theirs = scipy_stats.ttest_ind(a, b, equal_var=False)
    assert ours.t == pytest.approx(theirs.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-8)
    assert ours.df == pytest.approx(theirs.df, rel=1e-10)


def test_welch_without_spread_is_no_test():
    assert math.isnan(stats.welch_t_test([0.5, 0.5, 0.5], [0.5, 0.5]).p_value)
    assert math.isnan(stats.welch_t_test([0.9, 0.9], [0.5, 0.5]).p_value)  # no noise estimate: no claim
    assert math.isnan(stats.welch_t_test([0.9], [0.5, 0.6]).p_value)  # one seed: no test
