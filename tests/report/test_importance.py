"""fANOVA importance against its oracles: the exact decomposition of a tree evaluated on the whole grid,
classical ANOVA on an additive grid, and Optuna's FanovaImportanceEvaluator."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from initopt.report.importance import fanova_importance, tree_main_effects


def _anova_shares(points, values):
    """Main-effect sums of squares over the total: the variance decomposition of a balanced grid."""
    mean = sum(values) / len(values)
    total = sum((v - mean) ** 2 for v in values)
    shares = {}
    for name in points[0]:
        groups = {}
        for p, v in zip(points, values):
            groups.setdefault(p[name], []).append(v)
        shares[name] = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values()) / total
    return shares


def _grid(effects: dict[str, dict], interaction: float = 0.0, noise: float = 0.0, seed: int = 0):
    rng = random.Random(seed)
    points, values = [], []
    for combo in itertools.product(*(e.items() for e in effects.values())):
        points.append({name: level for name, (level, _) in zip(effects, combo)})
        v = 0.8 + sum(effect for _, effect in combo)
        v += interaction * combo[0][1] * combo[-1][1] + rng.gauss(0, noise)
        values.append(v)
    return points, values


def test_a_trees_main_effects_equal_the_exact_decomposition_of_its_predictions_over_the_grid():
    """Evaluate a fitted tree on every cell of the grid, take each setting's marginal means under the
    uniform measure, and compare with the leaf-box formula."""
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.default_rng(0)
    n_levels = [3, 5, 4]
    x = np.array([[rng.integers(n) for n in n_levels] for _ in range(60)], dtype=float)
    y = np.sin(x[:, 0]) + x[:, 1] ** 2 / 10 + x[:, 0] * x[:, 2] / 5 + rng.normal(0, 0.1, len(x))
    tree = DecisionTreeRegressor(max_depth=6, random_state=0).fit(x, y)
    grid = np.array(list(itertools.product(*(range(n) for n in n_levels))), dtype=float)
    f = tree.predict(grid).reshape(n_levels)
    total = f.var()
    expected = [f.mean(axis=tuple(q for q in range(3) if q != p)).var() / total for p in range(3)]
    np.testing.assert_allclose(tree_main_effects(tree, n_levels), expected, rtol=1e-9, atol=1e-12)


def test_fanova_agrees_with_anova_on_an_additive_grid():
    """On a full factorial grid the trees fit every point (one per grid point), so the main effects are
    the classical ANOVA's exactly. The lr is a log grid of 4 values (as in studies), taken as 4 levels."""
    points, values = _grid({"init": {"zeros": -0.3, "he_normal": 0.0, "xavier_normal": 0.02},
                            "optimizer": {"sgd": -0.05, "adam": 0.0},
                            "lr": {1e-4: -0.2, 1e-3: -0.05, 1e-2: 0.0, 1e-1: 0.01}})
    result = fanova_importance(points, values)
    assert result.skipped is None and result.n_points == 24
    shares = dict(result.shares)
    expected = _anova_shares(points, values)
    assert sum(shares.values()) == pytest.approx(1.0)
    for name in expected:
        assert shares[name] == pytest.approx(expected[name], abs=1e-9), (name, shares, expected)
    assert [name for name, _ in result.shares] == ["init", "lr", "optimizer"]
    assert "fANOVA" in result.method and "24 grid points" in result.method


def test_fanova_agrees_with_optunas_evaluator_on_a_noisy_grid_with_an_interaction():
    optuna = pytest.importorskip("optuna")
    from optuna.distributions import CategoricalDistribution
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    points, values = _grid({"init": {"zeros": -0.2, "he_normal": 0.0, "xavier_normal": 0.01},
                            "optimizer": {"sgd": -0.04, "adam": 0.0},
                            "weight_decay": {0.0: 0.0, 0.01: -0.01},
                            "lr": {1e-4: -0.15, 1e-3: -0.03, 1e-2: 0.0, 1e-1: -0.1}}, interaction=0.5, noise=0.005)
    ours = dict(fanova_importance(points, values).shares)
    anova = _anova_shares(points, values)  # with an interaction the main effects sum to less than 1
    for name in ours:
        assert ours[name] == pytest.approx(anova[name] / sum(anova.values()), abs=1e-9)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize")
    distributions = {k: CategoricalDistribution(sorted({p[k] for p in points}, key=lambda v: (isinstance(v, str), v))) for k in points[0]}
    study.add_trials([optuna.trial.create_trial(params=p, distributions=distributions, value=v) for p, v in zip(points, values)])
    theirs = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    assert sorted(ours, key=ours.get) == sorted(theirs, key=theirs.get)
    for name in ours:
        # Optuna's forest is bootstrapped: its trees miss grid points, and its shares move by up to 0.08
        assert ours[name] == pytest.approx(theirs[name], abs=0.1), (ours, dict(theirs))


def test_fanova_leaves_out_constant_parameters_and_says_when_it_cannot_run():
    points = [{"init": i, "weight_decay": 0.0} for i in ("a", "b") for _ in range(3)]
    result = fanova_importance(points, [0.1, 0.2, 0.15, 0.9, 0.8, 0.85])
    assert [name for name, _ in result.shares] == ["init"]
    assert fanova_importance(points[:2], [0.1, 0.2]).skipped
    flat = fanova_importance(points, [0.5] * 6)
    assert flat.shares == () and "same score" in flat.skipped
