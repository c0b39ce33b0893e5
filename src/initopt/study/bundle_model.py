"""K models of one architecture as one batched computation: parameters stacked on a leading axis.

Two ways, one interface (``forward`` for per-configuration batches ``(K, B, ...)``, ``forward_shared``
for one input ``(N, ...)`` seen by every configuration):

- ``HandBatchedMLP`` for ``nn.Sequential`` stacks of Linear layers and elementwise activations (the
  built-in ``mlp`` and ``deep-mlp``): one ``baddbmm`` per layer. Measured faster than vmap on the CPU.
- ``VmappedModule`` for any other module that ``torch.func.vmap`` can map: ``functional_call`` over
  the stacked parameters.

A model with buffers (BatchNorm's running statistics) or one that vmap rejects raises ``NotBatchable``;
the runner then trains that bundle one configuration at a time and says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SELU, nn.ELU, nn.SiLU, nn.Identity)


class NotBatchable(Exception):
    """This architecture cannot be trained as one batched model."""


def stack_parameters(models: Sequence[nn.Module], device: torch.device) -> dict[str, torch.Tensor]:
    """``{name: (K, *shape) leaf tensor}`` from K models of the same architecture."""
    names = [name for name, _ in models[0].named_parameters()]
    stacked = {}
    for name in names:
        tensors = [dict(m.named_parameters())[name].detach() for m in models]
        stacked[name] = torch.stack(tensors).to(device).requires_grad_(True)
    return stacked


class HandBatchedMLP:
    """``Linear -> act -> ... -> Linear`` for K configurations: ``h = b + h @ W^T`` with one bmm per layer."""

    def __init__(self, template: nn.Sequential, params: dict[str, torch.Tensor]):
        self.params = params
        self.layers: list[tuple[torch.Tensor, torch.Tensor | None] | nn.Module] = []
        for name, child in template.named_children():
            if isinstance(child, nn.Linear):
                self.layers.append((params[f"{name}.weight"], params.get(f"{name}.bias")))
            else:
                self.layers.append(child)

    @staticmethod
    def accepts(model: nn.Module) -> bool:
        return isinstance(model, nn.Sequential) and not list(model.buffers()) and all(
            isinstance(child, (nn.Linear, *ELEMENTWISE)) for child in model.children()
        ) and any(isinstance(child, nn.Linear) for child in model.children())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in self.layers:
            if isinstance(layer, tuple):
                weight, bias = layer
                if h.dim() == 2:  # the same input for every configuration
                    h = torch.matmul(h, weight.transpose(1, 2))
                    h = h + bias.unsqueeze(1) if bias is not None else h
                elif bias is not None:
                    h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
                else:
                    h = torch.bmm(h, weight.transpose(1, 2))
            else:
                h = layer(h)
        return h

    forward_shared = forward


class VmappedModule:
    """Any vmap-compatible module: ``vmap(functional_call)`` over the stacked parameters."""

    def __init__(self, template: nn.Module, params: dict[str, torch.Tensor]):
        from torch.func import functional_call, vmap

        self.params = params

        def call(p, x):
            return functional_call(template, p, (x,))

        self._per_config = vmap(call, in_dims=(0, 0))
        self._shared = vmap(call, in_dims=(0, None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._per_config(self.params, x)

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        return self._shared(self.params, x)


def bundle_model(models: Sequence[nn.Module], sample: torch.Tensor, device: torch.device):
    """The batched forward for ``models``; ``sample`` (a couple of inputs) proves it runs."""
    template = models[0]
    if list(template.buffers()):
        raise NotBatchable(f"{type(template).__name__} has buffers (e.g. BatchNorm running statistics)")
    params = stack_parameters(models, device)
    batched = HandBatchedMLP(template, params) if HandBatchedMLP.accepts(template) else None
    if batched is None:
        template = template.to(device)
        batched = VmappedModule(template, params)
    try:
        with torch.no_grad():
            batched.forward(sample.to(device).unsqueeze(0).expand(len(models), *sample.shape))
    except Exception as exc:
        raise NotBatchable(f"torch.func.vmap cannot map {type(template).__name__}: {exc}") from exc
    return batched
