"""Check a loss and a metric against a dataset's task before any training, and canonicalize their names."""

from __future__ import annotations

import warnings

import torch

from initopt.training.losses import get_loss, loss_name
from initopt.training.metrics import get_metric


class ObjectiveError(ValueError):
    """``field`` is ``"loss"`` or ``"metric"``; the message says what does not fit."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def check_objective(loss: str, metric: str, task: str, output: torch.Tensor, target: torch.Tensor) -> tuple[str, str]:
    """Canonical ``(loss, metric)`` names, after trying both on a model's output for a few examples.

    ``task`` is the dataset's (``binary``, ``multiclass``, ``regression``). Per-token targets
    (``(n, T)`` against ``(n, T, V)`` outputs) are a multiclass task. Raises ``ObjectiveError`` when
    a name is unknown, when accuracy is asked of a regression or perplexity of anything but a
    multiclass task, or when the loss or the metric
    cannot take this output and these targets (e.g. ``mse`` on ten-class logits).
    """
    try:
        loss_fn = get_loss(loss)
    except ValueError as exc:
        raise ObjectiveError("loss", str(exc)) from None
    try:
        metric_fn = get_metric(metric)
    except ValueError as exc:
        raise ObjectiveError("metric", str(exc)) from None
    if metric_fn.name == "accuracy" and task == "regression":
        raise ObjectiveError("metric", "accuracy needs a classification task; this dataset is a regression: use mse or rmse")
    if metric_fn.name == "perplexity" and task != "multiclass":
        raise ObjectiveError("metric", f"perplexity is exp of a cross-entropy over classes and needs a multiclass task; "
                                       f"this dataset is {task}")
    for field, fn in (("loss", loss_fn), ("metric", metric_fn)):
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("error")  # e.g. mse's "target size ... different to the input size"
                value = fn(output, target)
        except Exception as exc:  # shape or dtype mismatch: the loss does not fit the task
            raise ObjectiveError(field, f"{loss if field == 'loss' else metric!r} does not fit this {task} task "
                                        f"(model output {tuple(output.shape)}, targets {tuple(target.shape)}): "
                                        f"{str(exc).splitlines()[0]}") from None
        if value.numel() != 1:
            raise ObjectiveError(field, f"{loss if field == 'loss' else metric!r} gives {value.numel()} values, not one")
    return loss_name(loss), metric_fn.name
