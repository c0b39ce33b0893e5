"""Hyperparameter importance: how much of the variance of a study's score each setting explains.

fANOVA (Hutter, Hoos & Leyton-Brown 2014, "An Efficient Approach for Assessing Hyperparameter
Importance"): fit a random forest to ``score ~ settings``, then split the variance of each tree's
prediction over the grid into the parts due to each setting alone (main effects; interactions are
not shown), average the shares over the trees and normalize them to sum to 1.

The forest is scikit-learn's; the decomposition is written here, vectorized over a tree's leaves.
Optuna's ``FanovaImportanceEvaluator`` computes the same quantity by walking every tree once per
setting and value in Python; on a study of 256 configurations it took 93 s, on 1,000 it had not
finished after 17 minutes. Here every setting is a categorical axis whose values are the grid's
levels, each of equal weight (the learning rate too: a log grid's four values are four levels, not
points on a linear range, which would put three of them in its bottom tenth), coded 0..n-1 in
sorted order. A leaf of a tree is then a box of levels, ``[lo_q, hi_q)`` along each setting ``q``,
and under the uniform measure over levels:

- the tree's mean ``m = sum_leaves vol * v`` with ``vol = prod_q (hi_q - lo_q) / n_q``;
- its variance ``V = sum_leaves vol * v^2 - m^2``;
- setting ``p``'s marginal at level ``a``: ``f_p(a) = sum_{leaves with lo_p <= a < hi_p} v * vol / frac_p``;
- its main effect ``V_p = mean_a (f_p(a) - m)^2``, its share in the tree ``V_p / V``.

The forest is bounded (``TREES`` trees of depth at most ``MAX_DEPTH``) and fitted on one point per
grid point without its seed (the mean over seeds: seeds are noise, not a setting), so its cost
grows with the number of distinct settings, about linearly. Its trees see every point (no bootstrap:
the points are already means) and differ by the settings each split may choose from
(``MAX_FEATURES``): on a complete grid each tree fits every point and the shares are the classical
ANOVA's main effects exactly; where the grid has holes (optimizers with their own lr lists) the trees
differ in how they fill them, and the forest averages that out. (Optuna's evaluator bootstraps, so
its trees miss points: on a complete 48-point grid its shares were up to 0.08 from the exact ones.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

TREES = 32
MAX_DEPTH = 12
SEED = 0  # the forest is random: a fixed seed makes a report reproducible
BOOTSTRAP = False
MAX_FEATURES = 0.7
MIN_POINTS = 4  # below this a forest of regression trees has nothing to split


@dataclass(frozen=True)
class ImportanceResult:
    """Shares of the variance of the score that fANOVA gives each setting (they sum to 1)."""

    shares: tuple[tuple[str, float], ...]  # largest first
    method: str  # named in the report
    n_points: int
    skipped: str | None = None  # why nothing was computed (too few points, no variance, ...)


def _levels(values: Sequence[Any]) -> list[Any]:
    return sorted(set(values), key=lambda v: (isinstance(v, str), v))


def tree_main_effects(tree, n_levels: Sequence[int]) -> np.ndarray | None:
    """Main-effect variances ``V_p / V`` of one fitted scikit-learn regression tree over a grid of
    ``n_levels[q]`` levels per setting (coded 0..n-1); None where the tree is constant."""
    t = tree.tree_
    d = len(n_levels)
    lo = np.zeros((t.node_count, d), dtype=np.int64)
    hi = np.tile(np.asarray(n_levels, dtype=np.int64), (t.node_count, 1))
    leaves = []
    stack = [0]
    while stack:  # the boxes of every node, top-down
        node = stack.pop()
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            leaves.append(node)
            continue
        f, cut = t.feature[node], int(np.floor(t.threshold[node])) + 1  # codes <= threshold go left
        lo[left], hi[left], lo[right], hi[right] = lo[node], hi[node], lo[node], hi[node]
        hi[left, f] = min(hi[node, f], cut)
        lo[right, f] = max(lo[node, f], cut)
        stack += [left, right]
    leaves = np.asarray(leaves)
    value = t.value[leaves, 0, 0]
    lo, hi = lo[leaves], hi[leaves]
    frac = (hi - lo) / np.asarray(n_levels, dtype=float)  # (leaves, d)
    keep = np.all(frac > 0, axis=1)  # a leaf no level reaches (a split between two codes) weighs nothing
    value, lo, hi, frac = value[keep], lo[keep], hi[keep], frac[keep]
    vol = np.prod(frac, axis=1)
    mean = float(np.sum(vol * value))
    total = float(np.sum(vol * value**2) - mean**2)
    if total <= 1e-15 * max(1.0, mean**2):
        return None
    out = np.zeros(d)
    for p, n in enumerate(n_levels):
        weight = vol / frac[:, p] * value
        marginal = np.zeros(n + 1)
        np.add.at(marginal, lo[:, p], weight)  # each leaf adds its weight over [lo, hi): a difference array
        np.add.at(marginal, hi[:, p], -weight)
        out[p] = float(np.mean((np.cumsum(marginal)[:n] - mean) ** 2)) / total
    return out


def fanova_importance(points: Sequence[Mapping[str, Any]], values: Sequence[float]) -> ImportanceResult:
    """How much of the variance of ``values`` each setting of ``points`` explains (fANOVA main effects).

    ``points``: one mapping of setting -> value per grid point (strings or numbers); a setting with
    one value in the whole study explains nothing and is left out.
    """
    names = [k for k in (points[0] if points else {}) if len({p[k] for p in points}) > 1]
    n = len(values)
    method = (f"fANOVA main effects (Hutter et al. 2014) of a random forest of {TREES} trees of depth at most "
              f"{MAX_DEPTH} (scikit-learn, seed {SEED}, no bootstrap), on {n} grid points, each the mean over its seeds; grid "
              "values as levels of equal weight")
    if n < MIN_POINTS or not names:
        return ImportanceResult((), method, n, skipped=f"needs at least {MIN_POINTS} scored grid points and a setting that varies")
    y = np.asarray(values, dtype=float)
    if float(y.max()) == float(y.min()):
        return ImportanceResult((), method, n, skipped="every grid point reached the same score: there is no variance to split")
    from sklearn.ensemble import RandomForestRegressor

    levels = [_levels([p[name] for p in points]) for name in names]
    codes = [{v: i for i, v in enumerate(lv)} for lv in levels]
    x = np.array([[codes[j][p[name]] for j, name in enumerate(names)] for p in points], dtype=float)
    forest = RandomForestRegressor(n_estimators=TREES, max_depth=MAX_DEPTH, bootstrap=BOOTSTRAP, max_features=MAX_FEATURES,
                                   random_state=SEED).fit(x, y)
    effects = [e for e in (tree_main_effects(tree, [len(lv) for lv in levels]) for tree in forest.estimators_) if e is not None]
    if not effects:
        return ImportanceResult((), method, n, skipped="the forest found nothing to split: no variance it could explain")
    mean = np.mean(effects, axis=0)
    shares = mean / mean.sum() if mean.sum() > 0 else mean
    ranked = tuple(sorted(((name, float(s)) for name, s in zip(names, shares)), key=lambda kv: -kv[1]))
    return ImportanceResult(ranked, method, n)
