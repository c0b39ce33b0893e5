"""The generic path for one layer: any module with parameters that no bundled layer takes, mapped over
the configurations with ``torch.func.vmap(functional_call)``, inside an otherwise bundled model.

The folded arguments (first dimension ``K * B``) are unfolded to ``(K, B, ...)`` and mapped; the
others are shared by every configuration. A module with buffers is not taken (vmap cannot update
them in place): the bundle then trains one configuration at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from initopt.study.bundled.base import BundleContext


class GenericLayer(nn.Module):
    def __init__(self, modules: Sequence[nn.Module], context: BundleContext):
        from torch.func import functional_call, vmap

        super().__init__()
        template = modules[0]
        self.context = context
        self._template = [template]  # a list: kept out of this module's parameters
        self.names = [name for name, _ in template.named_parameters()]
        self.stacked = nn.ParameterList(
            nn.Parameter(torch.stack([dict(m.named_parameters())[n].detach() for m in modules]).clone())
            for n in self.names)

        def call(params, args, kwargs):
            return functional_call(template, dict(zip(self.names, params)), tuple(args), kwargs)

        self._vmap, self._call = vmap, call

    def forward(self, *args, **kwargs):
        k, rows = self.context.k, self.context.k * self.context.per_config

        def unfold(a):
            return a.view(k, -1, *a.shape[1:]) if isinstance(a, torch.Tensor) and a.dim() and a.shape[0] == rows else a

        def dims(a):
            return 0 if isinstance(a, torch.Tensor) and a.dim() and a.shape[0] == rows else None

        in_dims = (0, [dims(a) for a in args], {key: dims(v) for key, v in kwargs.items()})
        args, kwargs = [unfold(a) for a in args], {key: unfold(v) for key, v in kwargs.items()}
        out = self._vmap(self._call, in_dims=in_dims, randomness="different")(list(self.stacked), args, kwargs)
        return torch.utils._pytree.tree_map(lambda t: t.reshape(-1, *t.shape[2:]) if isinstance(t, torch.Tensor) else t, out)
