"""Callbacks: extra behaviour for ``fit`` without growing the loop (Keras's protocol)."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from initopt.training.history import History


@dataclass
class LoopState:
    """What a callback may read during ``fit``; set ``stop_training`` to end after this epoch."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    history: History
    epochs: int
    steps_per_epoch: int
    stop_training: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


class Callback:
    """Base class: override any of the hooks. ``self.state`` is the running ``LoopState``.

    With an optimizer that has ``train()``/``eval()`` (Schedule-Free), ``fit`` has put the gradient
    point y in the parameters for ``on_epoch_begin`` and ``on_batch_end``, and the average x for
    ``on_epoch_end`` and ``on_train_end``: weights kept or saved there are the ones to evaluate.
    """

    state: LoopState

    def set_state(self, state: LoopState) -> None:
        self.state = state

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_train_end(self, logs: dict[str, float] | None = None) -> None: ...


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs (Keras 3's semantics).

    ``mode`` is ``min``, ``max`` or ``auto`` (``max`` for names containing "acc", else ``min``).
    ``baseline``: training stops unless the monitored value beats it within ``patience`` epochs.
    ``restore_best_weights`` puts back the weights of the best epoch when training ends.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping mode must be 'auto', 'min' or 'max', got {mode!r}")
        if patience < 0:
            raise ValueError(f"EarlyStopping patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.maximize = mode == "max" or (mode == "auto" and "acc" in monitor)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.stopped_epoch: int | None = None

    def on_train_begin(self, logs=None) -> None:
        self.wait = 0
        self.best: float | None = None
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.best_epoch = 0
        self._warned = False

    def _improved(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.maximize:
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            if not self._warned:
                warnings.warn(f"EarlyStopping: metric {self.monitor!r} is not in the logs ({', '.join(logs or {})})", stacklevel=2)
                self._warned = True
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:  # until something beats them
            self.best_weights, self.best_epoch = self._weights(), epoch
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self._weights()
            # the patience restarts only once the baseline is beaten too (Keras)
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.state.stop_training = True
            self.state.history.stopped_early = True

    def on_train_end(self, logs=None) -> None:
        # Keras restores the best weights at the end of training, stopped early or not
        if self.restore_best_weights and self.best_weights is not None:
            self.state.model.load_state_dict(self.best_weights)

    def _weights(self) -> dict[str, torch.Tensor]:
        return copy.deepcopy(self.state.model.state_dict())
