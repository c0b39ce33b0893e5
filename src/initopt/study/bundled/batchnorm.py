"""``nn.BatchNorm1d`` and ``nn.BatchNorm2d`` for K configurations, each with its own batch statistics
and running statistics (Ioffe and Szegedy 2015).

The folded batch ``(K * B, C, ...)`` is laid out as ``(B, K * C, ...)``: configuration ``k``'s channel
``c`` becomes channel ``k * C + c``, so torch's own batch norm over ``K * C`` channels computes each
configuration's statistics over its own examples only, with the same kernel (and numbers) as K
separate layers. The running statistics are ``(K * C)`` buffers, configuration-major.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from initopt.study.bundled.base import BundleContext, stack, stack_buffer


def to_channels(x: torch.Tensor, k: int) -> torch.Tensor:
    """Folded ``(K * B, C, ...)`` -> ``(B, K * C, ...)``."""
    n = x.shape[0] // k
    return x.reshape(k, n, *x.shape[1:]).transpose(0, 1).reshape(n, k * x.shape[1], *x.shape[2:])


def from_channels(y: torch.Tensor, k: int) -> torch.Tensor:
    """``(B, K * C, ...)`` -> folded ``(K * B, C, ...)``."""
    n, channels = y.shape[0], y.shape[1] // k
    return y.reshape(n, k, channels, *y.shape[2:]).transpose(0, 1).reshape(k * n, channels, *y.shape[2:])


class BundledBatchNorm(nn.Module):
    replaces = (nn.BatchNorm1d, nn.BatchNorm2d)

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
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        use_batch = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        y = F.batch_norm(to_channels(x, self.k), _flat(self.running_mean if keep else None),
                         _flat(self.running_var if keep else None), _flat(self.weight), _flat(self.bias),
                         use_batch, factor, self.eps)
        return from_channels(y, self.k)


def _flat(t: torch.Tensor | None) -> torch.Tensor | None:
    """``(K, C)`` as the ``(K * C)`` view batch norm reads and updates in place."""
    return None if t is None else t.view(-1)
