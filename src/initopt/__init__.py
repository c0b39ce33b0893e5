"""initopt: choose weight initialization and optimizer settings by measurement.

Public API: ``initopt.init``, ``initopt.optim``, ``initopt.data``, ``initopt.fit``, ``History``,
``initopt.study``, ``initopt.diagnose``.
Submodules load on first use, so ``import initopt`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["Callback", "Diagnosis", "EarlyStopping", "History", "TrainingMonitor", "Verdict", "data", "diagnose", "doctor",
           "fit", "init", "models", "optim", "study", "training"]

_SUBMODULES = {"data", "doctor", "init", "optim", "models", "study", "training"}
_DOCTOR = {"diagnose", "Diagnosis", "Verdict", "TrainingMonitor"}
_TRAINING = {"fit", "History", "EarlyStopping", "Callback"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"initopt.{name}")
    if name in _TRAINING:
        # The loop lives in ``initopt.training`` so that ``initopt.fit`` names the function, not a package.
        return getattr(importlib.import_module("initopt.training"), name)
    if name in _DOCTOR:
        return getattr(importlib.import_module("initopt.doctor"), name)
    raise AttributeError(f"module 'initopt' has no attribute {name!r}")
