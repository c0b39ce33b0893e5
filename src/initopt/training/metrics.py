"""Metrics computed per batch as sums, so that an epoch's value is exact over all its examples.

A metric is the batch mean of a quantity that averages over examples (``fn``), and optionally a
``finish`` applied to the mean over a whole split. The loops and tallies add up ``fn`` weighted by
the batch size and finish once, so a split's value does not depend on how it was cut into batches:

- ``accuracy``: the share of correct predictions (per token for per-token targets; every example
  has the same number of tokens, so the mean over examples of each example's mean is the mean over
  tokens).
- ``mse``: the mean squared error.
- ``rmse``: ``sqrt(mse)`` over the split (not the mean of per-batch roots).
- ``perplexity``: ``exp`` of the mean cross-entropy per token over the split (Jelinek et al. 1977;
  the language-modelling convention, e.g. Bengio et al. 2003), not the mean of per-batch ``exp``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from initopt._suggest import unknown
from initopt.training.losses import cross_entropy, match_binary_shape

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


Finish = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Metric:
    """A named metric.

    ``fn(output, target)``: the batch mean (0-dim tensor) of the quantity that averages over a split.
    ``finish``: maps the mean of ``fn`` over a split to the metric (``torch.sqrt`` for rmse,
    ``torch.exp`` for perplexity); ``None`` for a metric that is itself a mean (accuracy, mse).
    Calling the metric gives its value on one batch alone: ``finish(fn(output, target))``.
    """

    name: str
    fn: MetricFn
    finish: Finish | None = None

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.final(self.mean(output, target))

    def mean(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``fn`` on one batch, as a tensor: what a loop adds up, weighted by the batch size."""
        value = self.fn(output, target)
        return value if isinstance(value, torch.Tensor) else torch.tensor(float(value))

    def final(self, mean: torch.Tensor | float) -> torch.Tensor | float:
        """The metric of a split whose mean of ``fn`` is ``mean`` (a float stays a float)."""
        if self.finish is None:
            return mean
        if isinstance(mean, torch.Tensor):
            return self.finish(mean)
        return float(self.finish(torch.tensor(mean, dtype=torch.float64)))


def squared_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean squared error of one batch (a one-column output read as one value per example)."""
    return ((match_binary_shape(output, target) - target) ** 2).mean()


METRIC_NAMES = ("accuracy", "mse", "perplexity", "rmse")


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
        return Metric("mse", squared_error)
    if key == "rmse":
        return Metric("rmse", squared_error, torch.sqrt)
    if key in ("perplexity", "ppl"):
        return Metric("perplexity", cross_entropy, torch.exp)
    raise ValueError(unknown("metric", metric, METRIC_NAMES, extra=", or a callable"))
