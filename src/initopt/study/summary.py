"""How a study's results are named: which metrics are better low, and an optimizer's label.

(The ranking itself is ``report.data.ranked_candidates``, the one behind the terminal table, the
report and the exports.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from initopt.study.spec import OPTIMIZER_DEFAULTS

LOWER_IS_BETTER = ("mse", "rmse", "perplexity", "loss")


def optimizer_label(optimizer: str, hyperparameters: Mapping[str, Any], omit: tuple[str, ...] = ("lr",)) -> str:
    """The family plus every hyperparameter not in ``omit`` that differs from its default, in the
    order given: ``sgd momentum=0.9``, ``adam weight_decay=1e-04``."""
    from initopt.report.fmt import hyper

    defaults = OPTIMIZER_DEFAULTS.get(optimizer, {})
    extras = []
    for key, value in hyperparameters.items():
        default = defaults.get(key)
        same = list(value) == list(default) if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)) else value == default
        if key not in omit and not same:
            extras.append(f"{key}={hyper(value)}" if isinstance(value, float) else f"{key}={value}")
    return " ".join([optimizer, *extras])
