"""Metrics computed per batch as sums, so that an epoch's value is the exact mean over its examples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from initopt._suggest import unknown
from initopt.training.losses import match_binary_shape

MetricFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def correct(output: torch.Tensor, target: torch.Tensor, *, threshold: float = 0.0) -> torch.Tensor:
    """Which predictions are right, as a bool tensor shaped like ``target``.

    Binary (one output per example): predicted class is ``output > threshold`` (0 for logits, 0.5 for
    probabilities). Multiclass (one output per class, last axis): the argmax. Leading axes (a batch,
    or configurations x batch in a study bundle) pass through.
    """
    output = match_binary_shape(output, target)
    if output.dim() == target.dim() + 1:
        return output.argmax(dim=-1) == target.long()
    if output.shape != target.shape:
        raise ValueError(f"accuracy: output shape {tuple(output.shape)} does not match target {tuple(target.shape)}")
    return (output > threshold).to(target.dtype) == target


def accuracy(output: torch.Tensor, target: torch.Tensor, *, threshold: float = 0.0) -> torch.Tensor:
    """Fraction of correct predictions (see :func:`correct`)."""
    return correct(output, target, threshold=threshold).float().mean()


@dataclass(frozen=True)
class Metric:
    """A named metric: ``fn(output, target)`` returns the batch mean as a 0-dim tensor."""

    name: str
    fn: MetricFn

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        value = self.fn(output, target)
        return value if isinstance(value, torch.Tensor) else torch.tensor(float(value))


METRIC_NAMES = ("accuracy", "mse")


def get_metric(metric: str | MetricFn, *, probabilities: bool = False) -> Metric:
    """A metric by name or a callable (named by its ``__name__``).

    ``probabilities`` says the model outputs probabilities (loss ``binary_crossentropy``), so binary
    accuracy thresholds at 0.5 rather than at logit 0.
    """
    if callable(metric):
        return Metric(getattr(metric, "__name__", type(metric).__name__), metric)
    key = str(metric).strip().lower()
    if key in ("accuracy", "acc"):
        threshold = 0.5 if probabilities else 0.0
        return Metric("accuracy", lambda o, t: accuracy(o, t, threshold=threshold))
    if key == "mse":
        return Metric("mse", lambda o, t: ((match_binary_shape(o, t) - t) ** 2).mean())
    raise ValueError(unknown("metric", metric, METRIC_NAMES, extra=", or a callable"))
