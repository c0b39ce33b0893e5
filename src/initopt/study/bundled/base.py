"""What every bundled layer shares: the folded layout, the bundle's context, stacking K modules' parameters.

The folded layout: a bundle of K configurations runs the user's forward once, on a batch of ``K * B``
examples whose rows ``k * B : (k + 1) * B`` belong to configuration ``k``. Whatever acts on each
example alone (activations, pooling, flatten, reshape by ``x.size(0)``, residual additions,
``scaled_dot_product_attention``) is already right on that batch. Only layers with parameters, state
or randomness need to know about the configurations: each such layer is swapped for a bundled one
that applies configuration ``k``'s parameters to configuration ``k``'s rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn


class Unsupported(Exception):
    """This module, with these settings, has no bundled layer: the generic path takes it."""


@dataclass
class BundleContext:
    """What the bundled layers of one bundle share: K, the configurations' random generators (one per
    configuration, seeded as the sequential engine seeds the global RNG), the examples per
    configuration of the call under way (set by the bundle before each forward), and whether a
    layer may hand out the same gradient buffer every step (``reuse_gradients``: only where the
    gradients are taken with ``torch.autograd.grad`` and used before the next backward, as the
    engine does; ``.grad`` accumulation would alias them)."""

    k: int
    generators: list[torch.Generator] = field(default_factory=list)
    per_config: int = 0
    reuse_gradients: bool = False


def stack(modules: Sequence[nn.Module], name: str) -> nn.Parameter | None:
    """The parameter ``name`` of K modules as one ``(K, *shape)`` leaf, or None where they have none."""
    tensors = [getattr(m, name) for m in modules]
    if tensors[0] is None:
        return None
    return nn.Parameter(torch.stack([t.detach() for t in tensors]).clone())


def stack_buffer(modules: Sequence[nn.Module], name: str) -> torch.Tensor | None:
    tensors = [getattr(m, name) for m in modules]
    return None if tensors[0] is None else torch.stack([t.detach() for t in tensors]).clone()


def per_config_rows(x: torch.Tensor, k: int) -> torch.Tensor:
    """``(K * B, ..., f)`` folded rows as ``(K, B * ..., f)``: each configuration's rows as one matrix."""
    return x.reshape(k, -1, x.shape[-1])


def to_channels(x: torch.Tensor, k: int) -> torch.Tensor:
    """Folded ``(K * B, C, ...)`` -> the grouped layout ``(B, K * C, ...)``: configuration ``k``'s
    channel ``c`` becomes channel ``k * C + c`` (grouped convolution, batch norm over ``K * C`` channels)."""
    n = x.shape[0] // k
    return x.reshape(k, n, *x.shape[1:]).transpose(0, 1).reshape(n, k * x.shape[1], *x.shape[2:])


def from_channels(y: torch.Tensor, k: int) -> torch.Tensor:
    """``(B, K * C, ...)`` -> folded ``(K * B, C, ...)``."""
    n, channels = y.shape[0], y.shape[1] // k
    return y.reshape(n, k, channels, *y.shape[2:]).transpose(0, 1).reshape(k * n, channels, *y.shape[2:])
