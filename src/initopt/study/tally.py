"""The training loss and metric of an epoch, per configuration of a bundle, two ways.

Both give each configuration the mean over the epoch's examples, which is the batch-size-weighted mean
of the per-step values that ``initopt.fit`` reports:

- :class:`RunningTally` adds each step's loss and metric into float64 sums (a few small operations
  per step). Any loss and metric.
- :class:`DeferredTally` copies each step's outputs into an epoch buffer (one copy per step) and
  computes every step's loss and metric at the end of the epoch, in one call for all the full steps.
  For the built-in losses and metrics; it saves the per-step loss, metric and sums, which on a 2-core
  CPU are a tenth of a small MLP bundle's step. The values are the same as step by step: the same
  float32 means over each step's examples, the same float64 sum.

A metric whose split value is a function of a mean (rmse = sqrt of the mean squared error,
perplexity = exp of the mean cross-entropy; a ``BatchedMetric``) is added up as that mean, and the
function applied once to the epoch's mean (``initopt.training.batched.metric_parts``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from initopt.training.batched import metric_parts

BatchedFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

DEFERRED_MAX_BYTES = 64 << 20  # the epoch buffer of outputs and targets, above which tallies run per step


class RunningTally:
    """Per-step float64 sums of the loss and the metric."""

    needs_losses = True  # each step hands its per-configuration losses to ``record``
    deferred = False  # ``record`` does not depend on where the step starts

    def __init__(self, k: int, n: int, metric_fn: BatchedFn, device: torch.device):
        self.n = n
        self.metric_fn, self.metric_finish = metric_parts(metric_fn)
        self.loss_sum = torch.zeros(k, dtype=torch.float64, device=device)
        self.metric_sum = torch.zeros(k, dtype=torch.float64, device=device)

    def start(self, order: torch.Tensor) -> None:
        """A new epoch whose data order is ``order`` (k, n)."""
        self.loss_sum.zero_()
        self.metric_sum.zero_()

    @torch.no_grad()
    def record(self, start: int, losses: torch.Tensor | None, output: torch.Tensor, target: torch.Tensor) -> None:
        """The step over examples ``start : start + m`` of the epoch's order."""
        m = target.shape[1]
        self.loss_sum.add_(losses.detach(), alpha=m)
        self.metric_sum.add_(self.metric_fn(output.detach(), target), alpha=m)

    def finish(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, metric)``, float64 ``(k,)`` over the epoch: means (the metric then finished)."""
        return self.loss_sum / self.n, _finish(self.metric_finish, self.metric_sum / self.n)


class DeferredTally:
    """Every step's outputs kept; the epoch's loss and metric computed from them at its end, step by
    step as the steps would have (each step's float32 mean, summed in float64), in two calls each."""

    needs_losses = False
    deferred = True  # ``record`` writes where the step starts

    def __init__(self, k: int, n: int, batch_size: int, example_output: torch.Tensor, y: torch.Tensor,
                 loss_fn: BatchedFn, metric_fn: BatchedFn):  # fmt: skip
        self.k, self.n, self.batch_size, self.y, self.loss_fn = k, n, batch_size, y, loss_fn
        self.metric_fn, self.metric_finish = metric_parts(metric_fn)
        self.outputs = example_output.new_empty(k, n, *example_output.shape)
        self.targets: torch.Tensor | None = None

    @staticmethod
    def fits(k: int, n: int, example_output: torch.Tensor, y: torch.Tensor) -> bool:
        """Whether the epoch's outputs and targets of ``k`` configurations fit ``DEFERRED_MAX_BYTES``;
        ``example_output``: one configuration's output for one example."""
        per_example = example_output.numel() * example_output.element_size() + y[:1].numel() * y.element_size()
        return k * n * per_example <= DEFERRED_MAX_BYTES

    def start(self, order: torch.Tensor) -> None:
        self.targets = self.y.index_select(0, order.reshape(-1)).view(self.k, self.n, *self.y.shape[1:])

    @torch.no_grad()
    def record(self, start: int, losses: torch.Tensor | None, output: torch.Tensor, target: torch.Tensor) -> None:
        self.outputs[:, start : start + target.shape[1]].copy_(output)

    @torch.no_grad()
    def finish(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._per_step(self.loss_fn), _finish(self.metric_finish, self._per_step(self.metric_fn))

    def _per_step(self, fn: BatchedFn) -> torch.Tensor:
        """``fn`` of every step (the full ones in one call: steps become configurations), weighted by
        the step's size and summed in float64: ``(k,)`` means over the epoch."""
        k, m = self.k, self.batch_size
        steps = self.n // m
        whole = steps * m
        total = torch.zeros(k, dtype=torch.float64, device=self.outputs.device)
        if steps:
            outputs = self.outputs[:, :whole].reshape(k * steps, m, *self.outputs.shape[2:])
            targets = self.targets[:, :whole].reshape(k * steps, m, *self.targets.shape[2:])
            total += fn(outputs, targets).double().view(k, steps).sum(dim=1) * m
        if whole < self.n:
            total += fn(self.outputs[:, whole:], self.targets[:, whole:]).double() * (self.n - whole)
        return total / self.n


def _finish(finish, mean: torch.Tensor) -> torch.Tensor:
    return mean if finish is None else finish(mean)
