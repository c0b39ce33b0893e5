"""``TrainingMonitor``: per layer, the update-to-weight ratio and the gradient norm, every epoch.

The ratio ``||W_after - W_before|| / ||W_before||`` of one optimizer step is the quickest check that
the learning rate fits the initialization: around 1e-3 is the usual healthy range; far below, the
weights barely move (learning rate too small, or vanishing gradients); far above, each step
rewrites a large part of the weights (learning rate too large, or exploding gradients). The rule
of thumb is from Karpathy's CS231n notes, "Neural Networks Part 3: Learning and Evaluation",
section "Ratio of weights:updates".

Per weight (every parameter with >= 2 dims, named as in ``model.named_parameters()``) and epoch,
the monitor records the mean over the epoch's steps of

    update_ratio = ||W_t - W_{t-1}||_F / ||W_{t-1}||_F     (0 when W_{t-1} = 0 and W_t = 0; inf when only W_{t-1} = 0)
    grad_norm    = ||dL/dW||_F                              (the gradient the step used)

in ``History.history`` under ``"update_ratio/<param>"`` and ``"grad_norm/<param>"``, and the number
of weights flagged that epoch under ``"monitor_flags"``. A weight is flagged when its epoch ratio
is outside ``[target / factor, target * factor]``; the flags are typed records in
``monitor.flags``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

import torch

from initopt.training.callbacks import Callback
from initopt.training.history import History

__all__ = ["FLAG_FACTOR", "TARGET_UPDATE_RATIO", "MonitorRecord", "RatioFlag", "TrainingMonitor"]

#: The usual healthy update-to-weight ratio per step (CS231n): ~1e-3.
TARGET_UPDATE_RATIO = 1e-3
#: "Far from" the target: more than 10x away either way, i.e. outside [1e-4, 1e-2] by default.
FLAG_FACTOR = 10.0
UPDATE_KEY, GRAD_KEY, FLAGS_KEY = "update_ratio/", "grad_norm/", "monitor_flags"


class RatioFlag(str, Enum):
    """Where an epoch's mean update-to-weight ratio lies relative to the target range."""

    OK = "ok"
    TOO_SMALL = "too_small"
    TOO_LARGE = "too_large"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class MonitorRecord:
    """One weight in one epoch (0-based, as ``History.epoch``): mean ratio and gradient norm over its steps."""

    epoch: int
    parameter: str
    update_ratio: float
    grad_norm: float
    steps: int
    flag: RatioFlag

    @property
    def message(self) -> str:
        hint = {
            RatioFlag.TOO_SMALL: "weights barely move: learning rate too small, or vanishing gradients",
            RatioFlag.TOO_LARGE: "each step rewrites the weights: learning rate too large, or exploding gradients",
            RatioFlag.OK: "ok",
        }[self.flag]
        return f"epoch {self.epoch + 1}: {self.parameter} update/weight {self.update_ratio:.2g} ({hint})"


def update_ratio(before: torch.Tensor, after: torch.Tensor) -> float:
    """``||after - before||_F / ||before||_F`` (0/0 -> 0, x/0 -> inf), in float64."""
    step = float(torch.linalg.vector_norm((after - before).double()))
    size = float(torch.linalg.vector_norm(before.double()))
    if size == 0.0:
        return 0.0 if step == 0.0 else math.inf
    return step / size


def flag_of(ratio: float, target: float = TARGET_UPDATE_RATIO, factor: float = FLAG_FACTOR) -> RatioFlag:
    """``TOO_SMALL`` below ``target / factor``, ``TOO_LARGE`` above ``target * factor`` (NaN: too large)."""
    if math.isnan(ratio) or ratio > target * factor:
        return RatioFlag.TOO_LARGE
    if ratio < target / factor:
        return RatioFlag.TOO_SMALL
    return RatioFlag.OK


def _put(history: History, key: str, value: float) -> None:
    """Write this epoch's ``value`` into ``history.history[key]``, aligned with ``history.epoch``.

    ``History.record`` already ran for the epoch (callbacks see it after), and it pads keys it does
    not get with NaN, so the entry for this epoch may exist (as NaN) or not yet.
    """
    values = history.history.setdefault(key, [])
    while len(values) < len(history.epoch):
        values.append(math.nan)
    values[len(history.epoch) - 1] = float(value)


class TrainingMonitor(Callback):
    """Per weight, the update-to-weight ratio and gradient norm each epoch, recorded in ``History``.

    ``target`` and ``factor`` set the flag range ``[target / factor, target * factor]``
    (default ``[1e-4, 1e-2]``); ``verbose`` prints each flag at the end of its epoch.
    ``records`` holds every (epoch, weight) record, ``flags`` the flagged ones.

    Each step costs a copy of the weights and two norms per weight.
    """

    def __init__(self, target: float = TARGET_UPDATE_RATIO, factor: float = FLAG_FACTOR, verbose: bool = False):
        if not (isinstance(target, (int, float)) and math.isfinite(target) and target > 0):
            raise ValueError(f"TrainingMonitor target must be a positive number; got {target!r}")
        if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 1):
            raise ValueError(f"TrainingMonitor factor must be a number > 1; got {factor!r}")
        self.target, self.factor, self.verbose = float(target), float(factor), verbose
        self.records: list[MonitorRecord] = []

    @property
    def flags(self) -> list[MonitorRecord]:
        return [record for record in self.records if record.flag is not RatioFlag.OK]

    def _weights(self) -> list[tuple[str, torch.nn.Parameter]]:
        return [(name, p) for name, p in self.state.model.named_parameters() if p.dim() >= 2 and p.requires_grad]

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self._previous = {name: p.detach().clone() for name, p in self._weights()}

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        # measured from where the epoch's steps start: fit has just swapped a Schedule-Free x back to y
        with torch.no_grad():
            for name, p in self._weights():
                self._previous[name].copy_(p.detach())
        self._sums: dict[str, list[float]] = {name: [0.0, 0.0, 0] for name in self._previous}  # type: ignore[misc]

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        with torch.no_grad():
            for name, p in self._weights():
                previous = self._previous[name]
                sums = self._sums[name]
                sums[0] += update_ratio(previous, p.detach())
                sums[1] += 0.0 if p.grad is None else float(torch.linalg.vector_norm(p.grad.double()))
                sums[2] += 1
                previous.copy_(p.detach())

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        history = self.state.history
        flagged = 0
        for name, (ratio_sum, grad_sum, steps) in self._sums.items():
            if not steps:
                continue
            ratio, grad = ratio_sum / steps, grad_sum / steps
            record = MonitorRecord(epoch, name, ratio, grad, int(steps), flag_of(ratio, self.target, self.factor))
            self.records.append(record)
            _put(history, UPDATE_KEY + name, ratio)
            _put(history, GRAD_KEY + name, grad)
            if record.flag is not RatioFlag.OK:
                flagged += 1
                if self.verbose:
                    print(f"monitor: {record.message}")
        _put(history, FLAGS_KEY, flagged)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [{**asdict(record), "flag": record.flag.value} for record in self.records]
