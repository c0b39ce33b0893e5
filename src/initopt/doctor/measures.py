"""The numbers the doctor reads off one forward and backward pass: small pure functions on tensors.

Everything is computed in float64 so that a float32 signal near its overflow (1e30, whose square
is not a float32) still gets a finite std.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "SignalStats",
    "dead_fraction",
    "duplicate_fraction",
    "population_std",
    "signal_stats",
]

#: Two units count as duplicates when their values agree to this fraction of the largest |value| of
#: the tensor: float rounding of equal computations stays far below it, random draws far above.
DUPLICATE_RELATIVE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SignalStats:
    """Mean, population std and max |a| over every element of a tensor (NaN/inf where they appear)."""

    mean: float
    std: float
    max_abs: float


def signal_stats(tensor: torch.Tensor) -> SignalStats:
    """``mean(a)``, ``sqrt(mean((a - mean(a))^2))`` (population std), ``max |a|`` over all elements."""
    values = tensor.detach().double()
    if values.numel() == 0:
        return SignalStats(math.nan, math.nan, math.nan)
    return SignalStats(float(values.mean()), float(values.std(correction=0)), float(values.abs().max()))


def population_std(tensor: torch.Tensor) -> float:
    """``sqrt(mean((w - mean(w))^2))`` over every element (NaN for an empty tensor)."""
    return signal_stats(tensor).std


def dead_fraction(output: torch.Tensor, unit_dim: int) -> float:
    """Fraction of units (indices along ``unit_dim``) whose output is exactly 0 for every input.

    For a ReLU layer these units pass no gradient to their weights on this batch: "dead". The
    other dims (batch, positions) are all reduced: a conv channel is dead when it is 0 at every
    position of every example.
    """
    if output.dim() == 0:
        return math.nan
    fires = (output.detach() != 0).movedim(unit_dim, 0).reshape(output.shape[unit_dim], -1).any(dim=1)
    return float(1.0 - fires.double().mean())


def _quantized(rows: torch.Tensor) -> torch.Tensor:
    rows = rows.detach().double()
    scale = float(rows.abs().max()) if rows.numel() else 0.0
    if not math.isfinite(scale) or scale == 0.0:
        return rows
    return torch.round(rows / (scale * DUPLICATE_RELATIVE_TOLERANCE))


def duplicate_fraction(*parts: torch.Tensor | None) -> float:
    """Fraction of units that duplicate another unit: rows equal in every one of ``parts``.

    Each part is a tensor whose dim 0 indexes the units (a weight ``(out, in, *kernel)``, its bias
    ``(out,)``, their gradients); it is flattened to ``(out, -1)`` and compared to a relative
    tolerance (``DUPLICATE_RELATIVE_TOLERANCE`` times its largest |value|). Zero or constant
    weights give 1.0; random ones 0.0; one unit 0.0 (there is no other to duplicate).
    """
    columns = [_quantized(part.reshape(part.shape[0], -1)) for part in parts if part is not None]
    if not columns or columns[0].shape[0] < 2:
        return 0.0
    rows = torch.cat(columns, dim=1)
    _, inverse, counts = torch.unique(rows, dim=0, return_inverse=True, return_counts=True)
    return float((counts[inverse] > 1).double().mean())
