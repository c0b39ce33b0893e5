"""The training loss and metric of an epoch, per configuration of a bundle, two ways.

Both give each configuration the mean over the epoch's examples, which is the batch-size-weighted mean
of the per-step values that ``initopt.fit`` reports:

- :class:`RunningTally` adds each step's loss and metric into float64 sums (a few small operations
  per step). Any loss and metric.
- :class:`DeferredTally` copies each step's outputs into an epoch buffer (one copy per step) and
  computes the loss and the metric once, from all of them, at the end of the epoch. For losses and
  metrics that are means over examples (every built-in one); it saves the per-step loss, metric and
  sums, which on a 2-core CPU are a tenth of a small MLP bundle's step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

BatchedFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

DEFERRED_MAX_BYTES = 64 << 20  # the epoch buffer of outputs and targets, above which tallies run per step


class RunningTally:
    """Per-step float64 sums of the loss and the metric."""

    needs_losses = True  # each step hands its per-configuration losses to ``record``

    def __init__(self, k: int, n: int, metric_fn: BatchedFn, device: torch.device):
        self.n, self.metric_fn = n, metric_fn
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
        """``(loss, metric)``, float64 ``(k,)`` means over the epoch."""
        return self.loss_sum / self.n, self.metric_sum / self.n


class DeferredTally:
    """Every step's outputs kept; the epoch's loss and metric computed from them at its end."""

    needs_losses = False

    def __init__(self, k: int, n: int, output_shape: tuple[int, ...], y: torch.Tensor, loss_fn: BatchedFn,
                 metric_fn: BatchedFn, device: torch.device):  # fmt: skip
        self.k, self.n, self.y, self.loss_fn, self.metric_fn = k, n, y, loss_fn, metric_fn
        self.outputs = torch.empty(k, n, *output_shape, device=device)
        self.targets: torch.Tensor | None = None

    @staticmethod
    def fits(k: int, n: int, output_numel: int, y: torch.Tensor) -> bool:
        """Whether the epoch's outputs and targets of ``k`` configurations fit ``DEFERRED_MAX_BYTES``."""
        target_bytes = y[:1].numel() * y.element_size()
        return k * n * (4 * output_numel + target_bytes) <= DEFERRED_MAX_BYTES

    def start(self, order: torch.Tensor) -> None:
        self.targets = self.y.index_select(0, order.reshape(-1)).view(self.k, self.n, *self.y.shape[1:])

    @torch.no_grad()
    def record(self, start: int, losses: torch.Tensor | None, output: torch.Tensor, target: torch.Tensor) -> None:
        self.outputs[:, start : start + target.shape[1]].copy_(output)

    @torch.no_grad()
    def finish(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.loss_fn(self.outputs, self.targets).double(), self.metric_fn(self.outputs, self.targets).double()
