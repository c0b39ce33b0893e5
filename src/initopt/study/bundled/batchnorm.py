"""``nn.BatchNorm1d`` and ``nn.BatchNorm2d`` for K configurations, each with its own batch statistics
and running statistics (Ioffe and Szegedy 2015).

The folded batch ``(K * B, C, ...)`` is laid out as ``(B, K * C, ...)`` (the grouped layout): configuration ``k``'s channel
``c`` becomes channel ``k * C + c``, so torch's own batch norm over ``K * C`` channels computes each
configuration's statistics over its own examples only, with the same kernel (and numbers) as K
separate layers. The running statistics are ``(K * C)`` buffers, configuration-major.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from initopt.study.bundled.base import BundleContext, from_channels, stack, stack_buffer, to_channels


class BundledBatchNorm(nn.Module):
    replaces = (nn.BatchNorm1d, nn.BatchNorm2d)
    takes_grouped = True  # computes in the (B, K * C, ...) layout: study/bundled/grouped.py

    def __init__(self, modules: Sequence[nn.BatchNorm1d | nn.BatchNorm2d], context: BundleContext):
        super().__init__()
        template = modules[0]
        self.k = len(modules)
        self.eps, self.momentum = template.eps, template.momentum
        self.track_running_stats = template.track_running_stats
        self.weight, self.bias = stack(modules, "weight"), stack(modules, "bias")  # (K, C)
        for name in ("running_mean", "running_var"):
            self.register_buffer(name, stack_buffer(modules, name))  # (K, C)
        tracked = template.num_batches_tracked
        self.register_buffer("num_batches_tracked", None if tracked is None else tracked.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return from_channels(self.grouped(to_channels(x, self.k)), self.k)

    def grouped(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, K * C, ...)`` -> the same, normalized per configuration and channel."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        use_batch = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return F.batch_norm(x, _flat(self.running_mean if keep else None), _flat(self.running_var if keep else None),
                            _flat(self.weight), _flat(self.bias), use_batch, factor, self.eps)


def _flat(t: torch.Tensor | None) -> torch.Tensor | None:
    """``(K, C)`` as the ``(K * C)`` view batch norm reads and updates in place."""
    return None if t is None else t.view(-1)
