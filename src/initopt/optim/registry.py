"""Optimizers by name: ``get("adamw", params, lr=1e-3)``; ``names()`` lists the valid names."""

from __future__ import annotations

import difflib
from typing import Any

import torch

from .adafactor import Adafactor
from .adam import Adam, AdamW
from .lion import Lion
from .muon import Muon
from .schedule_free import ScheduleFreeAdamW
from .sgd import SGD

__all__ = ["get", "names"]

_REGISTRY: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": SGD, "adam": Adam, "adamw": AdamW, "lion": Lion, "muon": Muon, "adafactor": Adafactor,
    "schedule_free_adamw": ScheduleFreeAdamW,
}


def names() -> list[str]:
    """The names :func:`get` accepts (lower case; matching ignores case, and ``-`` is read as ``_``)."""
    return sorted(_REGISTRY)


def get(name: str, params: Any, **hyperparameters: Any) -> torch.optim.Optimizer:
    """Build the optimizer called ``name`` (case-insensitive) over ``params``.

    ``hyperparameters`` go to the class unchanged (``lr``, ``betas``, ``weight_decay``, ...).
    An unknown name raises ``ValueError`` listing the valid names and the closest one.

    Example:
        >>> opt = get("AdamW", model.parameters(), lr=1e-3, weight_decay=0.1)  # doctest: +SKIP
    """
    key = str(name).strip().lower().replace("-", "_")
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown optimizer {name!r}: valid names are {names()}{hint}")
    return _REGISTRY[key](params, **hyperparameters)
