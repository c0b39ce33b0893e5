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
        # All parameters of a configuration live in one row of ``flat`` (K, P); the layers' tensors are
        # views of it, so the optimizer updates one tensor per run of configurations instead of one per
        # layer. Weights are kept as (K, in, out), the transpose of nn.Linear's (out, in), so that
        # neither the forward nor the backward bmm needs a transposed copy.
        tensors = {n: (t.detach().transpose(1, 2) if n.endswith("weight") else t.detach()) for n, t in params.items()}
        k = next(iter(tensors.values())).shape[0]
        self.flat = torch.cat([t.reshape(k, -1) for t in tensors.values()], dim=1)
        self.params = {}
        offset = 0
        for name, tensor in tensors.items():
            size = tensor[0].numel()
            self.params[name] = self.flat[:, offset : offset + size].view(tensor.shape).requires_grad_(True)
            offset += size
        self.layers: list[tuple[torch.Tensor, torch.Tensor | None] | nn.Module] = []
        for name, child in template.named_children():
            if isinstance(child, nn.Linear):
                self.layers.append((self.params[f"{name}.weight"], self.params.get(f"{name}.bias")))
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
                if weight.shape[-1] == 1 and h.dim() == 3:
                    # a one-unit head (binary tasks): multiply-and-sum is ~3x cheaper than a bmm with N=1,
                    # in the forward and in both products of the backward (measured on a 2-core CPU)
                    h = (h * weight.transpose(1, 2)).sum(-1, keepdim=True)
                    h = h + bias.unsqueeze(1) if bias is not None else h
                elif h.dim() == 2:  # the same input for every configuration
                    h = torch.matmul(h, weight)
                    h = h + bias.unsqueeze(1) if bias is not None else h
                elif bias is not None:
                    h = torch.baddbmm(bias.unsqueeze(1), h, weight)
                else:
                    h = torch.bmm(h, weight)
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
    if not all(p.requires_grad for p in template.parameters()):
        raise NotBatchable(f"{type(template).__name__} has frozen parameters (requires_grad=False)")
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
