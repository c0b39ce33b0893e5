"""Keras-style progress output: a bar during each epoch (on a terminal, see ``initopt._terminal.live``),
then one line per epoch.

``Epoch 3/10 - 128/128 - 0.4s - loss: 0.4170 - accuracy: 0.8466 - val_loss: 0.4412 - val_accuracy: 0.8320``
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from initopt._terminal import live

BAR_WIDTH = 20
REDRAW_SECONDS = 0.05  # redrawing more often than this costs more than it shows


def format_logs(logs: dict[str, float]) -> str:
    """``key: value`` pairs, four decimals; a learning rate below 1e-3 in ``.4e`` (as Keras prints it)."""
    return " - ".join(f"{key}: {value:.4e}" if key == "lr" and 0 < abs(value) < 1e-3 else f"{key}: {value:.4f}"
                      for key, value in logs.items())


def format_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}us"
    if seconds < 1:
        return f"{seconds:.1f}s" if seconds >= 0.1 else f"{seconds * 1e3:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class ProgressLine:
    """Writes the per-epoch line; redraws a bar in place only when ``stream`` is a terminal."""

    def __init__(self, epochs: int, steps: int, stream: TextIO | None = None, bar: bool | None = None):
        self.epochs, self.steps = epochs, steps
        self.stream = stream or sys.stdout
        self.bar = live(self.stream) if bar is None else bar
        self._last_draw = 0.0

    def begin_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.start = time.perf_counter()
        self._last_draw = 0.0

    def update(self, step: int, logs: dict[str, float]) -> None:
        if not self.bar:
            return
        now = time.perf_counter()
        if step < self.steps and now - self._last_draw < REDRAW_SECONDS:
            return
        self._last_draw = now
        done = int(BAR_WIDTH * step / self.steps)
        bar = "=" * max(done - 1, 0) + (">" if done < BAR_WIDTH else "=") + "." * (BAR_WIDTH - done)
        elapsed = now - self.start
        eta = elapsed / step * (self.steps - step) if step else 0.0
        text = f"Epoch {self.epoch}/{self.epochs} - {step}/{self.steps} [{bar}] - ETA: {format_seconds(eta)}"
        if logs:
            text += " - " + format_logs(logs)
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()

    def end_epoch(self, steps_done: int, logs: dict[str, float]) -> None:
        elapsed = time.perf_counter() - self.start
        text = f"Epoch {self.epoch}/{self.epochs} - {steps_done}/{self.steps} - {format_seconds(elapsed)}"
        if logs:
            text += " - " + format_logs(logs)
        self.stream.write(("\r" if self.bar else "") + text + ("\x1b[K" if self.bar else "") + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        # on a terminal the bar may be on the line: start a fresh one
        self.stream.write(("\r\x1b[K" if self.bar else "") + text + "\n")
        self.stream.flush()
