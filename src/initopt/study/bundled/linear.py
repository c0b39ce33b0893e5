"""``nn.Linear`` for K configurations: one ``baddbmm`` over ``(K, rows, in) @ (K, in, out)``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from initopt.study.bundled.base import BundleContext, per_config_rows, stack


def bundled_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``y_k = x_k W_k^T + b_k`` for folded rows ``x`` (``K * B, ..., in``), ``weight`` ``(K, out, in)``,
    ``bias`` ``(K, out)``."""
    k, out_features = weight.shape[0], weight.shape[1]
    rows = per_config_rows(x, k)
    if bias is None:
        y = torch.bmm(rows, weight.transpose(1, 2))
    else:
        y = torch.baddbmm(bias.unsqueeze(1), rows, weight.transpose(1, 2))
    return y.view(*x.shape[:-1], out_features)


class BundledLinear(nn.Module):
    replaces = (nn.Linear,)

    def __init__(self, modules: Sequence[nn.Linear], context: BundleContext):
        super().__init__()
        self.weight = stack(modules, "weight")
        self.bias = stack(modules, "bias")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bundled_linear(x, self.weight, self.bias)
