"""Losses by name. Each takes ``(output, target)`` and returns the batch mean.

- ``bce``: binary cross-entropy on logits, ``mean(softplus(z) - y*z)`` — the sigmoid output layer of
  the texts folded into the loss, computed stably.
- ``binary_crossentropy``: binary cross-entropy on probabilities, as in the Keras example
  (``-mean(y*log(p) + (1-y)*log(1-p))``, with p clipped to [1e-7, 1 - 1e-7] like Keras).
- ``cross_entropy``: softmax cross-entropy on logits, integer class targets, classes on the last axis:
  ``(B, C)`` against ``(B,)``, or one class per position of a sequence, ``(B, T, V)`` against
  ``(B, T)``, the mean over every position (PyTorch's ``F.cross_entropy`` wants classes on axis 1;
  sequence models emit them last, so the positions are flattened first).
- ``mse``: mean squared error.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from initopt._suggest import unknown

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

KERAS_EPSILON = 1e-7  # Keras clips probabilities to [eps, 1 - eps] before taking logs


def match_binary_shape(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A (n, 1) output against a (n,) target is read as (n,): one logit per example."""
    if output.dim() == target.dim() + 1 and output.shape[-1] == 1:
        return output.squeeze(-1)
    return output


def bce(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    output = match_binary_shape(output, target)
    return F.binary_cross_entropy_with_logits(output, target.to(output.dtype))


def binary_crossentropy(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    output = match_binary_shape(output, target).clamp(KERAS_EPSILON, 1 - KERAS_EPSILON)
    return F.binary_cross_entropy(output, target.to(output.dtype))


def per_position(output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, ..., V)`` logits against ``(B, ...)`` classes as ``(N, V)`` against ``(N,)``: classes on
    the last axis, every leading position one row. Other shapes pass through."""
    if output.dim() > 2 and target.dim() == output.dim() - 1:
        return output.reshape(-1, output.shape[-1]), target.reshape(-1)
    return output, target


def cross_entropy(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    output, target = per_position(output, target)
    return F.cross_entropy(output, target.long())


def mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    output = match_binary_shape(output, target)
    return F.mse_loss(output, target.to(output.dtype))


LOSSES: dict[str, LossFn] = {
    "bce": bce,
    "binary_crossentropy": binary_crossentropy,
    "cross_entropy": cross_entropy,
    "mse": mse,
}
PROBABILITY_LOSSES = frozenset({"binary_crossentropy"})


def get_loss(loss: str | LossFn) -> LossFn:
    """A loss by name (case-insensitive, ``-`` same as ``_``) or a callable passed through."""
    if callable(loss):
        return loss
    key = str(loss).strip().lower().replace("-", "_")
    if key not in LOSSES:
        raise ValueError(unknown("loss", loss, LOSSES, extra=", or a callable"))
    return LOSSES[key]


def loss_name(loss: str | LossFn) -> str:
    return getattr(loss, "__name__", type(loss).__name__) if callable(loss) else str(loss).strip().lower().replace("-", "_")
