"""``nn.LayerNorm`` and ``nn.RMSNorm`` for K configurations: the normalization of each example is the
same for every configuration (torch's kernel, without affine), then each configuration's own scale
and shift on its rows."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from initopt.study.bundled.base import BundleContext, stack


def per_config_affine(y: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
    """``y_k * w_k + b_k`` on folded rows, ``weight`` and ``bias`` ``(K, *normalized_shape)``."""
    if weight is None and bias is None:
        return y
    k = (weight if weight is not None else bias).shape[0]
    feature = (weight if weight is not None else bias).shape[1:]
    rows = y.reshape(k, -1, *feature)
    if weight is not None and bias is not None:
        out = torch.addcmul(bias.unsqueeze(1), rows, weight.unsqueeze(1))
    elif weight is not None:
        out = rows * weight.unsqueeze(1)
    else:
        out = rows + bias.unsqueeze(1)
    return out.view(y.shape)


class BundledLayerNorm(nn.Module):
    """``(x - mean) / sqrt(var + eps) * w + b`` over the last dimensions (Ba et al. 2016)."""

    replaces = (nn.LayerNorm,)

    def __init__(self, modules: Sequence[nn.LayerNorm], context: BundleContext):
        super().__init__()
        template = modules[0]
        self.normalized_shape, self.eps = tuple(template.normalized_shape), template.eps
        self.weight = stack(modules, "weight")
        self.bias = stack(modules, "bias")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return per_config_affine(F.layer_norm(x, self.normalized_shape, eps=self.eps), self.weight, self.bias)


class BundledRMSNorm(nn.Module):
    """``x / sqrt(mean(x^2) + eps) * w`` over the last dimensions (Zhang and Sennrich 2019)."""

    replaces = (nn.RMSNorm,)

    def __init__(self, modules: Sequence[nn.RMSNorm], context: BundleContext):
        super().__init__()
        template = modules[0]
        self.normalized_shape, self.eps = tuple(template.normalized_shape), template.eps
        self.weight = stack(modules, "weight")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return per_config_affine(F.rms_norm(x, self.normalized_shape, eps=self.eps), self.weight, None)
