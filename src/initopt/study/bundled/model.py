"""A user's model as one bundle of K configurations: the model's own forward, run once on the folded
batch, with each layer that has parameters, state or randomness swapped for its bundled counterpart.

``FoldedBundle(models, seeds)`` walks the first model's module tree beside the K models: a module
of a registered type becomes its bundled layer (stacking the K modules' parameters); a module with
neither parameters, buffers nor dropout below it is kept as it is (shared by every configuration); a
container is rebuilt from its converted children (the user's ``forward`` is untouched; an
``nn.Sequential``'s runs of convolution, batch norm, activation and pooling go through the grouped
layout from end to end: :mod:`initopt.study.bundled.grouped`); a module that
holds parameters of its own and has no bundled layer goes through the generic path
(:mod:`initopt.study.bundled.generic`), and one that holds buffers too cannot be bundled.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from initopt.study.bundled.base import BundleContext, Unsupported
from initopt.study.bundled.generic import GenericLayer
from initopt.study.bundled.grouped import group_runs


EVAL_EXAMPLES = 1024  # examples of all configurations together in the first evaluation chunk
EVAL_ELEMENTS = 1 << 20  # elements of the largest layer output of an evaluation chunk (4 MB in float32)


class NotBatchable(Exception):
    """This architecture cannot be trained as one batched model."""


def _registry() -> dict[type, type]:
    from initopt.study.bundled import LAYERS

    return {kind: layer for layer in LAYERS for kind in layer.replaces}


def _random(module: nn.Module) -> bool:
    """A dropout module (any kind: its draws must be each configuration's own)."""
    return isinstance(module, nn.modules.dropout._DropoutNd)


def _has_state(module: nn.Module) -> bool:
    """Parameters, buffers or dropout anywhere below ``module``."""
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers()) or any(
        _random(m) for m in module.modules())


class FoldedBundle:
    """K models of one architecture trained as one: ``forward`` takes per-configuration batches
    ``(K, B, ...)``, ``forward_shared`` one input ``(N, ...)`` seen by every configuration (evaluation).
    ``params`` maps the bundle's parameter names to ``(K, ...)`` leaves; ``generic`` names the layers
    that went through the generic path."""

    def __init__(self, models: Sequence[nn.Module], seeds: Sequence[int], device: torch.device):
        self.k = len(models)
        generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]
        self.context = BundleContext(self.k, generators)
        self.generic: list[str] = []
        self.module = self._convert(models[0], list(models), "", _registry()).to(device)
        self.params = dict(self.module.named_parameters())
        self._eval_batch: int | None = None

    def _convert(self, template: nn.Module, modules: list[nn.Module], path: str, registry) -> nn.Module:
        name = path or type(template).__name__
        layer = registry.get(type(template))
        if layer is not None:
            try:
                return layer(modules, self.context)
            except Unsupported as exc:
                return self._generic(template, modules, name, str(exc))
        if not _has_state(template):
            return template
        direct = list(template.parameters(recurse=False)) + list(template.buffers(recurse=False))
        if direct or not template._modules:
            return self._generic(template, modules, name, "no bundled layer for this module type")
        converted = copy.copy(template)
        converted._modules = {
            child: self._convert(sub, [m._modules[child] for m in modules], f"{path}.{child}" if path else child, registry)
            for child, sub in template._modules.items()
        }
        return group_runs(converted, self.k) if type(template) is nn.Sequential else converted

    def _generic(self, template: nn.Module, modules: list[nn.Module], name: str, why: str) -> nn.Module:
        if any(True for _ in template.buffers()):
            raise NotBatchable(f"layer {name} ({type(template).__name__}) has buffers and no bundled layer ({why})")
        if any(_random(m) for m in template.modules()):
            raise NotBatchable(f"layer {name} ({type(template).__name__}) has dropout inside and no bundled layer ({why})")
        self.generic.append(f"{name} ({type(template).__name__}: {why})")
        return GenericLayer(modules, self.context)

    def template_names(self) -> dict[str, str]:
        """Each of ``params``' names -> the name of that parameter in the user's model (they differ only
        inside a generic layer, which keeps its parameters in a list)."""
        out = {name: name for name in self.params}
        for prefix, module in self.module.named_modules():
            if isinstance(module, GenericLayer):
                for i, name in enumerate(module.names):
                    out[f"{prefix}.stacked.{i}" if prefix else f"stacked.{i}"] = f"{prefix}.{name}" if prefix else name
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training: ``(K, B, ...)`` -> ``(K, B, ...)``, the model in train mode. The gradients of this
        forward are for ``torch.autograd.grad``, used before the next step (layers may reuse buffers)."""
        self.module.train()
        self.context.reuse_gradients = True
        return self._folded(x.reshape(self.k * x.shape[1], *x.shape[2:]), x.shape[1])

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluation: one ``(N, ...)`` input for every configuration -> ``(K, N, ...)``, in eval mode."""
        self.module.eval()
        folded = x.unsqueeze(0).expand(self.k, *x.shape).reshape(self.k * x.shape[0], *x.shape[1:])
        return self._folded(folded, x.shape[0])

    def eval_batch(self, x: torch.Tensor) -> int:
        """Examples per evaluation chunk (each seen by every configuration), sized by measurement once:
        the first ``EVAL_EXAMPLES / K`` examples are run with every layer's output watched, and the chunk
        is made as large as keeps the largest output within ``EVAL_ELEMENTS``. One size for every
        model would be wrong both ways: a transformer's 1024 examples per configuration at K=16 made
        50 MB tensors whose fresh pages cost more than the arithmetic; an embedding model's layers
        output 32 numbers per example, and its chunks of 16 spent the evaluation in per-call overhead."""
        if self._eval_batch is None:
            probe = max(1, min(len(x), EVAL_EXAMPLES // self.k))
            largest = [1]

            def watch(module, inputs, output):
                if isinstance(output, torch.Tensor):
                    largest[0] = max(largest[0], output.numel())

            hooks = [m.register_forward_hook(watch) for m in self.module.modules()]
            try:
                with torch.no_grad():
                    self.forward_shared(x[:probe])
            finally:
                for hook in hooks:
                    hook.remove()
            per_example = largest[0] / probe  # elements of the largest output per example of the chunk
            self._eval_batch = max(1, int(EVAL_ELEMENTS // per_example))
        return self._eval_batch

    def _folded(self, x: torch.Tensor, per_config: int) -> torch.Tensor:
        self.context.per_config = per_config
        out = self.module(x)
        if not isinstance(out, torch.Tensor) or out.dim() == 0 or out.shape[0] != self.k * per_config:
            raise NotBatchable("the model's output does not keep the batch as its first dimension")
        return out.view(self.k, per_config, *out.shape[1:])
