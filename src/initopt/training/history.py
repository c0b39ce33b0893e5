"""The record of a training run, as Keras's ``History``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class History:
    """Per-epoch values: ``history["loss"][e]`` is the mean training loss of epoch ``e + 1``.

    ``history`` maps ``loss``, each metric, and ``val_``-prefixed ones to per-epoch lists (Keras's
    layout); ``epoch`` lists the 0-based epochs run (Keras's ``History.epoch``). ``diverged`` is True
    when a non-finite loss stopped training; that epoch's entries are then NaN and ``diverged_epoch``
    is its 1-based number.
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    diverged: bool = False
    diverged_epoch: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        """How many epochs ran (a diverged epoch counts)."""
        return len(self.epoch)

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key in set(self.history) | set(logs):
            self.history.setdefault(key, [math.nan] * (len(self.epoch) - 1)).append(float(logs.get(key, math.nan)))

    def last(self, key: str) -> float:
        values = self.history.get(key)
        return values[-1] if values else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": {k: list(v) for k, v in self.history.items()},
            "epoch": list(self.epoch),
            "params": dict(self.params),
            "diverged": self.diverged,
            "diverged_epoch": self.diverged_epoch,
            "stopped_early": self.stopped_early,
            "seconds": self.seconds,
        }
