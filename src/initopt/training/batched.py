"""Losses and metrics for K configurations at once: ``(K, B, ...)`` outputs in, one value per config out.

The built-in names are written out with ``reduction="none"``; any other callable is mapped over the
configuration axis with ``torch.func.vmap``. Per configuration they equal ``initopt.training.losses``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from initopt.training.losses import KERAS_EPSILON, PROBABILITY_LOSSES, get_loss, loss_name, match_binary_shape
from initopt.training.metrics import correct, get_metric

BatchedFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _mean_per_config(values: torch.Tensor) -> torch.Tensor:
    return values.reshape(values.shape[0], -1).mean(dim=1)


def _bce(output, target):
    output = match_binary_shape(output, target)
    return _mean_per_config(F.binary_cross_entropy_with_logits(output, target.to(output.dtype), reduction="none"))


def _binary_crossentropy(output, target):
    output = match_binary_shape(output, target).clamp(KERAS_EPSILON, 1 - KERAS_EPSILON)
    return _mean_per_config(F.binary_cross_entropy(output, target.to(output.dtype), reduction="none"))


def _cross_entropy(output, target):
    # classes on the last axis: (K, B, C) against (K, B), or per token (K, B, T, V) against (K, B, T)
    k = target.shape[0]
    if output.dim() == target.dim() + 1:
        losses = F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1).long(), reduction="none")
        return _mean_per_config(losses.view(k, -1))
    b = target.shape[1]  # other targets (class probabilities) as F.cross_entropy takes them, per example
    losses = F.cross_entropy(output.reshape(k * b, *output.shape[2:]), target.reshape(k * b, *target.shape[2:]), reduction="none")
    return _mean_per_config(losses.reshape(k, b, *losses.shape[1:]))


def _mse(output, target):
    output = match_binary_shape(output, target)
    return _mean_per_config((output - target.to(output.dtype)) ** 2)


_BATCHED_LOSSES: dict[str, BatchedFn] = {
    "bce": _bce,
    "binary_crossentropy": _binary_crossentropy,
    "cross_entropy": _cross_entropy,
    "mse": _mse,
}


def batched_loss(loss) -> BatchedFn:
    """Per-configuration mean loss of ``(K, B, ...)`` outputs against ``(K, B, ...)`` targets."""
    fn = get_loss(loss)
    name = loss_name(loss)
    if not callable(loss) and name in _BATCHED_LOSSES:
        return _BATCHED_LOSSES[name]
    return torch.func.vmap(fn)


def _bce_gradient(output, target):
    # d/do of mean(softplus(o) - y*o) = (sigmoid(o) - y) / n, as binary_cross_entropy_with_logits_backward
    o = match_binary_shape(output, target)
    return _per_element_mean(torch.sigmoid(o).sub_(target.to(o.dtype)), o).view(output.shape)


def _mse_gradient(output, target):
    o = match_binary_shape(output, target)
    return _per_element_mean((o - target.to(o.dtype)).mul_(2.0), o).view(output.shape)


def _cross_entropy_gradient(output, target):
    # d/do of mean(-log softmax(o)[y]) = (softmax(o) - onehot(y)) / n, n the examples (tokens, for
    # per-token targets) per configuration; classes on the last axis
    p = torch.softmax(output, dim=-1)
    index = target.long().unsqueeze(-1)
    p.scatter_(-1, index, p.gather(-1, index).sub_(1.0))
    return p.mul_(1.0 / target[0].numel())


def _per_element_mean(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.mul_(1.0 / like[0].numel())


_LOSS_GRADIENTS: dict[str, BatchedFn] = {
    "bce": _bce_gradient,
    "cross_entropy": _cross_entropy_gradient,
    "mse": _mse_gradient,
}


def batched_loss_gradient(loss) -> BatchedFn | None:
    """``fn(output, target)``: the gradient of the sum over configurations of the per-configuration
    mean loss with respect to ``output``, written out for the built-in losses (what autograd computes,
    without building a graph); ``None`` for the others, which go through autograd."""
    if callable(loss):
        return None
    return _LOSS_GRADIENTS.get(loss_name(loss))


@dataclass(frozen=True)
class BatchedMetric:
    """A metric of K configurations whose value over a split is ``finish`` of a mean (rmse, perplexity).

    ``mean(output, target) -> (K,)``: each configuration's batch mean of the quantity that averages
    over a split; the tallies add it up and call ``finish`` once on the split's mean. Calling the
    metric gives the value of one batch alone, ``finish(mean(output, target))``.
    """

    mean: BatchedFn
    finish: Callable[[torch.Tensor], torch.Tensor]

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.finish(self.mean(output, target))


def metric_parts(metric_fn: BatchedFn) -> tuple[BatchedFn, Callable[[torch.Tensor], torch.Tensor] | None]:
    """``(mean, finish)`` of a batched metric: what to add up over a split's batches, weighted by their
    sizes, and what to apply to the split's mean (``None``: the mean is the metric)."""
    if isinstance(metric_fn, BatchedMetric):
        return metric_fn.mean, metric_fn.finish
    return metric_fn, None


def batched_metric(metric, loss) -> tuple[str, BatchedFn]:
    """``(name, fn)``: the metric of each configuration, ``fn(output, target) -> (K,)``; for rmse and
    perplexity ``fn`` is a :class:`BatchedMetric` (see :func:`metric_parts`)."""
    probabilities = not callable(loss) and loss_name(loss) in PROBABILITY_LOSSES
    resolved = get_metric(metric, probabilities=probabilities)
    if callable(metric):
        return resolved.name, torch.func.vmap(resolved.fn)
    if resolved.name == "accuracy":
        threshold = 0.5 if probabilities else 0.0
        return "accuracy", lambda output, target: _mean_per_config(correct(output, target, threshold=threshold).float())
    mean = _cross_entropy if resolved.name == "perplexity" else _mse  # perplexity's; mse's and rmse's
    return resolved.name, BatchedMetric(mean, resolved.finish) if resolved.finish is not None else mean
