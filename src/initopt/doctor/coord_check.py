"""The coordinate check (Yang et al. 2022, "Tensor Programs V", sec. 6 and Fig. 5): does each layer's
output stay the same size as the model gets wider?

Models of several widths are initialized with one scheme, parametrized (``sp`` or ``mup``) and trained
a few steps on one batch; after each step the root mean square of each layer's output, its coordinate
size, is taken on that batch. Under a parametrization that transfers, a layer's coordinate size does
not depend on the width; under SP with Adam, hidden and output coordinates grow with it after the
first step. The verdict per layer is the slope of log(size) against log(width) after the last step:
above ``SLOPE`` it *grows*, below ``-SLOPE`` it *shrinks* (0.25: 2x over a 16x range of widths).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

SLOPE = 0.25


@dataclass(frozen=True)
class LayerTrend:
    """One layer's coordinate size per width (``sizes[w][t]``: after ``t`` steps) and its verdict."""

    name: str
    sizes: dict[int, list[float]]
    slope: float  # of log(size) against log(width), after the last step

    @property
    def verdict(self) -> str:
        if not math.isfinite(self.slope):
            return "non-finite"
        return "grows" if self.slope > SLOPE else "shrinks" if self.slope < -SLOPE else "stable"


@dataclass(frozen=True)
class CoordCheck:
    parametrization: str
    widths: tuple[int, ...]
    steps: int
    layers: list[LayerTrend]

    @property
    def unstable(self) -> list[LayerTrend]:
        """The layers whose coordinates grow or shrink with width."""
        return [layer for layer in self.layers if layer.verdict != "stable"]


def coord_check(build: Callable[[int], nn.Module], widths: Sequence[int], x: torch.Tensor, y: torch.Tensor,
                loss: Callable, *, parametrization: str, base_width: int, scheme="he_normal", optimizer: str = "adamw",
                lr: float = 1e-2, steps: int = 4, seed: int = 0) -> CoordCheck:
    """Train ``build(width)`` for each width ``steps`` steps on ``(x, y)`` and measure every layer's output.

    ``build(width)``: a fresh model of that width; ``loss(output, y)``; ``optimizer``: an
    ``initopt.optim`` name (no weight decay)."""
    from initopt import init, optim

    if len(widths) < 2:
        raise ValueError(f"the coordinate check needs two widths or more, got {list(widths)}")
    sizes: dict[str, dict[int, list[float]]] = {}
    for width in widths:
        torch.manual_seed(seed)
        model = build(width)
        init.initialize(model, scheme, "zeros", seed=seed)
        groups = init.parametrize(model, parametrization, base_width=base_width, width=width, optimizer=optimizer,
                                  scheme=scheme)
        opt = optim.get(optimizer, groups, lr=lr)
        measured: dict[str, float] = {}
        layers = [(name, module) for name, module in model.named_modules()
                  if name and not list(module.children())]
        hooks = [module.register_forward_hook(_recorder(measured, f"{name} ({type(module).__name__})"))
                 for name, module in layers]
        try:
            for step in range(steps + 1):
                output = model(x)
                for name, size in measured.items():
                    sizes.setdefault(name, {}).setdefault(width, []).append(size)
                if step == steps:
                    break
                opt.zero_grad()
                loss(output, y).backward()
                opt.step()
        finally:
            for hook in hooks:
                hook.remove()
    trends = [LayerTrend(name, per_width, _slope(widths, [per_width[w][-1] for w in widths]))
              for name, per_width in sizes.items() if all(w in per_width for w in widths)]
    return CoordCheck(parametrization, tuple(widths), steps, trends)


def _recorder(measured: dict[str, float], name: str):
    def record(module, inputs, output):
        if isinstance(output, torch.Tensor) and output.is_floating_point():
            measured[name] = output.detach().double().pow(2).mean().sqrt().item()
    return record


def _slope(widths: Sequence[int], sizes: Sequence[float]) -> float:
    """Least-squares slope of log(size) against log(width)."""
    if not all(math.isfinite(s) and s > 0 for s in sizes):
        return math.nan
    xs, ys = [math.log(w) for w in widths], [math.log(s) for s in sizes]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sum((a - mx) ** 2 for a in xs)


def render(checks: Sequence[CoordCheck]):
    """A rich table: each layer's coordinate size after the last step at each width, per parametrization,
    with the slope and the verdict."""
    from rich.table import Table

    first = checks[0]
    table = Table(title=f"Coordinate check: each layer's output RMS after {first.steps} steps, by width",
                  title_justify="left")
    table.add_column("layer", overflow="fold")
    for check in checks:
        for width in check.widths:
            table.add_column(f"{check.parametrization} {width}", justify="right")
        table.add_column(f"{check.parametrization} slope", justify="right")
    by_name = [{layer.name: layer for layer in check.layers} for check in checks]
    for name in [layer.name for layer in first.layers]:
        cells = [name]
        for check, layers in zip(checks, by_name):
            layer = layers.get(name)
            cells += [f"{layer.sizes[w][-1]:.3g}" if layer else "" for w in check.widths]
            cells.append(f"{layer.slope:+.2f} {_mark(layer.verdict)}" if layer else "")
        table.add_row(*cells)
    return table


def _mark(verdict: str) -> str:
    return {"stable": "", "grows": "grows", "shrinks": "shrinks"}.get(verdict, verdict)


def summary(check: CoordCheck) -> str:
    """One line: which layers' coordinates move with width under this parametrization."""
    moving = check.unstable
    if not moving:
        return f"{check.parametrization}: every layer's coordinates stay the same size across widths {_widths(check)}"
    named = ", ".join(f"{layer.name} ({layer.verdict}, slope {layer.slope:+.2f})" for layer in moving)
    return f"{check.parametrization}: {len(moving)} layer(s) change with width across {_widths(check)}: {named}"


def _widths(check: CoordCheck) -> str:
    return "-".join(str(w) for w in (check.widths[0], check.widths[-1]))
