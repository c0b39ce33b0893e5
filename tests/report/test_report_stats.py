"""The statistics against their oracles: SciPy for intervals and Welch's test, classical ANOVA for fANOVA."""

from __future__ import annotations

import itertools
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


def _anova_shares(trials, values):
    """Main-effect sums of squares over the total: the variance decomposition of a balanced grid."""
    mean = sum(values) / len(values)
    total = sum((v - mean) ** 2 for v in values)
    shares = {}
    for name in trials[0]:
        groups = {}
        for t, v in zip(trials, values):
            groups.setdefault(t[name], []).append(v)
        shares[name] = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values()) / total
    return shares


def test_fanova_agrees_with_anova_on_an_additive_grid():
    """On a full factorial grid with additive effects and no noise, the main effects are exact:
    fANOVA's shares equal the classical ANOVA's. The lr is a log grid of 4 values (as in studies)."""
    pytest.importorskip("optuna")
    inits = {"zeros": -0.3, "he_normal": 0.0, "xavier_normal": 0.02}
    optimizers = {"sgd": -0.05, "adam": 0.0}
    lrs = {1e-4: -0.2, 1e-3: -0.05, 1e-2: 0.0, 1e-1: 0.01}
    trials, values = [], []
    for (i, ei), (o, eo), (lr, elr) in itertools.product(inits.items(), optimizers.items(), lrs.items()):
        trials.append({"init": i, "optimizer": o, "lr": lr})
        values.append(0.8 + ei + eo + elr)
    result = stats.fanova_importance(trials, values)
    assert result.skipped is None
    shares = dict(result.shares)
    expected = _anova_shares(trials, values)
    assert sum(shares.values()) == pytest.approx(1.0)
    for name in expected:
        assert shares[name] == pytest.approx(expected[name], abs=0.05), (name, shares, expected)
    assert [name for name, _ in result.shares] == ["init", "lr", "optimizer"]
    assert "optuna" in result.method.lower()


def test_fanova_leaves_out_constant_parameters_and_says_when_it_cannot_run():
    pytest.importorskip("optuna")
    trials = [{"init": i, "weight_decay": 0.0} for i in ("a", "b") for _ in range(3)]
    result = stats.fanova_importance(trials, [0.1, 0.2, 0.15, 0.9, 0.8, 0.85])
    assert [name for name, _ in result.shares] == ["init"]
    assert stats.fanova_importance(trials[:2], [0.1, 0.2]).skipped
    flat = stats.fanova_importance(trials, [0.5] * 6)
    assert flat.shares == () and "same final value" in flat.skipped


def test_without_optuna_the_importance_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "optuna", None)  # import optuna -> ImportError
    trials = [{"init": i} for i in ("a", "b") for _ in range(3)]
    result = stats.fanova_importance(trials, [0.1, 0.2, 0.15, 0.9, 0.8, 0.85])
    assert result.shares == () and "pip install optuna" in result.skipped
