"""``nn.Dropout`` for K configurations: each configuration's mask drawn from its own generator.

Each generator is seeded with the configuration's seed, as ``initopt.fit`` seeds the global RNG, and
each configuration's rows are drawn with the same call as ``F.dropout`` on the CPU
(``empty_like(x).bernoulli_(1 - p)``, then ``/ (1 - p)``), in the same order: on the CPU a bundled
configuration drops exactly the units its sequential run drops. (On CUDA, torch's fused dropout
kernel draws differently: there each engine is reproducible from the seed, but they differ.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from initopt.study.bundled.base import BundleContext


class BundledDropout(nn.Module):
    replaces = (nn.Dropout,)

    def __init__(self, modules: Sequence[nn.Dropout], context: BundleContext):
        super().__init__()
        self.p, self.inplace = modules[0].p, modules[0].inplace
        self.context = context

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x.mul_(0) if self.inplace else x * 0
        noise = torch.empty_like(x)
        rows = x.shape[0] // self.context.k
        for i, generator in enumerate(self.context.generators):
            noise[i * rows : (i + 1) * rows].bernoulli_(1 - self.p, generator=generator)
        noise.div_(1 - self.p)
        return x.mul_(noise) if self.inplace else x * noise
