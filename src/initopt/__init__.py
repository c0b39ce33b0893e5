"""initopt: choose weight initialization and optimizer settings by measurement.

Public API: ``initopt.init``, ``initopt.optim``, ``initopt.data``, ``initopt.fit``, ``History``.
Submodules load on first use, so ``import initopt`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["Callback", "EarlyStopping", "History", "data", "fit", "init", "models", "optim", "training"]

_SUBMODULES = {"data", "init", "optim", "models", "training"}
_TRAINING = {"fit", "History", "EarlyStopping", "Callback"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"initopt.{name}")
    if name in _TRAINING:
        # The loop lives in ``initopt.training`` so that ``initopt.fit`` names the function, not a package.
        return getattr(importlib.import_module("initopt.training"), name)
    raise AttributeError(f"module 'initopt' has no attribute {name!r}")
