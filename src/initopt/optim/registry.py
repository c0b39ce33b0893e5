"""Optimizers by name: ``get("adamw", params, lr=1e-3)`` over given params, ``build("muon", model)``
over a model's conventional param groups; ``names()`` lists the valid names."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .adafactor import Adafactor
from .adam import Adam, AdamW
from .groups import param_groups
from .lion import Lion
from .muon import Muon, muon_param_groups
from .schedule_free import ScheduleFreeAdamW
from .sgd import SGD

__all__ = ["build", "get", "names"]

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
    return _lookup(name)(params, **hyperparameters)


def build(
    name: str,
    model: nn.Module,
    *,
    weight_decay: float | None = None,
    no_decay: Sequence[str] = ("bias", "norm"),
    **hyperparameters: Any,
) -> torch.optim.Optimizer:
    """Build the optimizer called ``name`` (as :func:`get`) over ``model``'s conventional param groups.

    ``"muon"``: :func:`~initopt.optim.muon.muon_param_groups` (hidden 2-D matrices with Muon, the rest
    with AdamW), ``weight_decay`` passed to :class:`~initopt.optim.Muon`; every other name:
    :func:`~initopt.optim.param_groups` (``weight_decay`` on the decayed group). Either way the
    parameters whose names contain one of ``no_decay`` (and norm layers') take no decay.
    ``weight_decay=None`` is the class's default (AdamW 1e-2, Muon 0.1, the others 0).
    ``hyperparameters`` go to the class unchanged; an unknown name raises :func:`get`'s ``ValueError``.

    Example:
        >>> opt = build("muon", model, lr=3e-4, weight_decay=0.1, adjust_lr_fn="match_rms_adamw")  # doctest: +SKIP
    """
    cls = _lookup(name)
    if weight_decay is None:
        weight_decay = _default_weight_decay(cls)
    if cls is Muon:
        return cls(muon_param_groups(model, no_decay), weight_decay=weight_decay, **hyperparameters)
    return cls(param_groups(model, weight_decay, no_decay), **hyperparameters)


def _default_weight_decay(cls: type[torch.optim.Optimizer]) -> float:
    """The default of ``cls``'s ``weight_decay`` argument."""
    return inspect.signature(cls).parameters["weight_decay"].default


def _lookup(name: str) -> type[torch.optim.Optimizer]:
    """The class called ``name`` (case-insensitive, ``-`` read as ``_``); ``ValueError`` with the closest name."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown optimizer {name!r}: valid names are {names()}{hint}")
    return _REGISTRY[key]
