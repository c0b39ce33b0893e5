"""K models of one architecture as one batched computation: parameters stacked on a leading axis.

Two ways, one interface (``forward`` for per-configuration batches ``(K, B, ...)``, ``forward_shared``
for one input ``(N, ...)`` seen by every configuration):

- ``HandBatchedMLP`` for ``nn.Sequential`` stacks of Linear layers and elementwise activations (the
  built-in ``mlp`` and ``deep-mlp``): one ``baddbmm`` per layer. Measured faster than vmap on the CPU.
- ``FoldedBundle`` (:mod:`initopt.study.bundled`) for any model built from the common layers: the
  model's own forward on the folded batch of all K configurations, each layer with parameters, state
  or randomness swapped for its bundled counterpart (a layer without one through vmap alone).
- ``VmappedModule`` for a model whose forward does not keep each example apart (the check below
  finds it) and that ``torch.func.vmap`` can map: ``functional_call`` over the stacked parameters.

What none of them can take raises ``NotBatchable``; the runner then trains that bundle one
configuration at a time and says so, naming the layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from initopt.study.bundled import FoldedBundle, NotBatchable  # NotBatchable re-exported for the runner

ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SELU, nn.ELU, nn.SiLU, nn.Identity)


OWN_BLOCK = 1024  # a parameter with this many elements per configuration gets its own contiguous block
ALIGN = 16  # elements


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple



CHECK_TOLERANCE = 1e-4  # the folded forward against each model's own, relative to the outputs' scale


def stack_parameters(models: Sequence[nn.Module], device: torch.device) -> dict[str, torch.Tensor]:
    """``{name: (K, *shape) leaf tensor}`` from K models of the same architecture."""
    names = [name for name, _ in models[0].named_parameters()]
    stacked = {}
    for name in names:
        tensors = [dict(m.named_parameters())[name].detach() for m in models]
        stacked[name] = torch.stack(tensors).to(device).requires_grad_(True)
    return stacked


class HandBatchedMLP:
    """``Linear -> act -> ... -> Linear`` for K configurations: ``h = b + h @ W`` with one bmm per layer,
    and its backward written out.

    Layout: the large weights (:data:`OWN_BLOCK` elements or more per configuration) are each one
    contiguous ``(K, in, out)`` tensor, the transpose of nn.Linear's, so that neither the forward nor
    the backward bmm needs a transposed copy or writes a strided result (measured 2.5x slower); the
    small parameters (biases, a one-unit head) share one ``(K, S)`` block, one row per configuration,
    so that the optimizer's fused kernels take two tensors per run of configurations, not one per
    parameter. ``blocks`` lists these tensors for the optimizer, ``grad_blocks`` their gradients, in
    the same layout; :meth:`backward` writes the gradients there in place.

    Training runs :meth:`forward_train` (activations kept in buffers reused every step), the loss's
    gradient (written out, or autograd on the output alone), then :meth:`backward`. Against autograd
    over the whole bundle this saves the gradient allocations, the copy of the gradients into the
    optimizer's layout and the first layer's input gradient (measured in docs/benchmarks.md). ReLU
    runs in place and is differentiated by ``threshold_backward`` as autograd does; other activations
    through autograd.
    """

    def __init__(self, template: nn.Sequential, params: dict[str, torch.Tensor], decayed: dict[str, bool] | None = None):
        tensors = {n: (t.detach().transpose(1, 2) if n.endswith("weight") else t.detach()) for n, t in params.items()}
        decayed = decayed or {}
        first = next(iter(tensors.values()))
        self.k = first.shape[0]
        large = {n: t for n, t in tensors.items() if t[0].numel() >= OWN_BLOCK}
        # the small parameters share a block, one for those weight decay takes and one for those it leaves
        smalls = [{n: t for n, t in tensors.items() if n not in large and decayed.get(n, True) is flag} for flag in (True, False)]
        # blocks start at multiples of ALIGN elements and the small blocks' rows are padded to one (the
        # padding is never read by the model and keeps a zero gradient): the GPU kernel's 128-bit loads
        rows = [_round_up(sum(t[0].numel() for t in small.values()), ALIGN) for small in smalls]
        total = sum(_round_up(t.numel(), ALIGN) for t in large.values()) + self.k * sum(rows)
        self.storage = torch.zeros(total, dtype=first.dtype, device=first.device)
        self.grad_storage = torch.zeros_like(self.storage)
        self.params: dict[str, torch.Tensor] = {}
        self.grads: dict[str, torch.Tensor] = {}
        self.blocks: list[torch.Tensor] = []
        self.grad_blocks: list[torch.Tensor] = []
        self.block_decay: list[bool] = []  # whether weight decay takes each block (``decayed``)
        offset = 0
        for name, tensor in large.items():
            size = tensor.numel()
            self.params[name] = self.storage[offset : offset + size].view(tensor.shape)
            self.grads[name] = self.grad_storage[offset : offset + size].view(tensor.shape)
            self.blocks.append(self.params[name])
            self.grad_blocks.append(self.grads[name])
            self.block_decay.append(decayed.get(name, True))
            offset += _round_up(size, ALIGN)
        for small, row, flag in zip(smalls, rows, (True, False)):
            if not small:
                continue
            block = self.storage[offset : offset + self.k * row].view(self.k, row)
            grad_block = self.grad_storage[offset : offset + self.k * row].view(self.k, row)
            offset += self.k * row
            self.blocks.append(block)
            self.grad_blocks.append(grad_block)
            self.block_decay.append(flag)
            column = 0
            for name, tensor in small.items():
                size = tensor[0].numel()
                self.params[name] = block[:, column : column + size].view(tensor.shape)
                self.grads[name] = grad_block[:, column : column + size].view(tensor.shape)
                column += size
        for name, tensor in tensors.items():
            self.params[name].copy_(tensor)
        self.layers: list[_Linear | nn.Module] = []
        for name, child in template.named_children():
            if isinstance(child, nn.Linear):
                bias = f"{name}.bias" if child.bias is not None else None
                self.layers.append(_Linear(self.params[f"{name}.weight"], self.grads[f"{name}.weight"],
                                           self.params.get(bias), self.grads.get(bias)))  # fmt: skip
            else:
                self.layers.append(child)
        self._saved: list = []
        self._buffers: dict[tuple[int, ...], torch.Tensor] = {}  # (layer index, *shape)

    @staticmethod
    def accepts(model: nn.Module) -> bool:
        return isinstance(model, nn.Sequential) and not list(model.buffers()) and all(
            isinstance(child, (nn.Linear, *ELEMENTWISE)) for child in model.children()
        ) and any(isinstance(child, nn.Linear) for child in model.children())

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(K, B, in)`` per-configuration inputs, or ``(N, in)`` seen by every configuration."""
        if x.dim() == 2:
            return self._forward_shared(x)
        h = x
        for layer in self.layers:
            if isinstance(layer, _Linear):
                h = torch.bmm(h, layer.weight)
                h = h + layer.bias.unsqueeze(1) if layer.bias is not None else h
            else:
                h = layer(h)
        return h

    def _forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        """One input ``(N, in)`` for every configuration (evaluation), computed transposed: ``h^T`` is
        ``(K, features, N)``, the first layer one matrix product for all K (``W^T (K*out, in) @ x^T``),
        each later one a bmm ``W^T @ h^T`` on contiguous operands, the result read back as
        ``(K, N, out)`` without a copy. Against a broadcast matmul, which expands ``x`` K times and
        ends in per-configuration matrix-vector products for a one-unit head: 28 -> 20-22 ms for the
        default study's test split and 64 configurations on a 2-core CPU."""
        h = x.T
        owned = False  # h is an intermediate of this call, free to be overwritten
        for layer in self.layers:
            if isinstance(layer, _Linear):
                k, fan_in, fan_out = layer.weight.shape
                if h.dim() == 2:
                    h = torch.mm(layer.weight.transpose(1, 2).reshape(k * fan_out, fan_in), h).view(k, fan_out, -1)
                else:
                    h = torch.bmm(layer.weight.transpose(1, 2), h)
                if layer.bias is not None:
                    h.add_(layer.bias.unsqueeze(-1))
                owned = True
            elif isinstance(layer, nn.ReLU) and owned:
                h.relu_()
            else:
                h, owned = layer(h), True
        return h.transpose(1, 2)  # a Linear layer has run (accepts() asks for one): h is (K, out, N)

    forward_shared = forward

    def _buffer(self, index: int, shape: tuple[int, ...]) -> torch.Tensor:
        """The activation buffer of layer ``index`` for a batch of this shape, made once."""
        key = (index, *shape)
        if key not in self._buffers:
            self._buffers[key] = torch.empty(shape, dtype=self.storage.dtype, device=self.storage.device)
        return self._buffers[key]

    @torch.no_grad()
    def forward_train(self, x: torch.Tensor) -> torch.Tensor:
        """The forward of a training step on ``(K, m, in)``, keeping what :meth:`backward` needs. The
        result lives in a buffer that the next step overwrites; ``x`` is left as it is."""
        saved = []
        h = x
        owned = False  # h is one of this model's buffers, free to be overwritten in place
        for index, layer in enumerate(self.layers):
            if isinstance(layer, _Linear):
                z = self._buffer(index, (self.k, h.shape[1], layer.weight.shape[-1]))
                if layer.bias is not None:
                    torch.baddbmm(layer.bias.unsqueeze(1), h, layer.weight, out=z)
                else:
                    torch.bmm(h, layer.weight, out=z)
                saved.append(h)
                h, owned = z, True
            elif isinstance(layer, nn.ReLU):
                # in place on a layer's output buffer (threshold_backward needs only the result); not
                # on the input, nor on an autograd activation's result, which its backward may need
                h = h.relu_() if owned else torch.relu(h)
                saved.append(h)
            elif isinstance(layer, nn.Identity):
                saved.append(None)
            else:
                leaf = h.detach().requires_grad_(True)
                with torch.enable_grad():
                    out = layer(leaf)
                saved.append((leaf, out))
                h, owned = out.detach(), False
        self._saved = saved
        return h

    @torch.no_grad()
    def backward(self, grad_output: torch.Tensor) -> None:
        """Write every parameter's gradient into ``grads`` from the gradient of the loss with respect to
        the output of the last :meth:`forward_train`. ``grad_output`` may be overwritten."""
        d = grad_output
        for index in range(len(self.layers) - 1, -1, -1):
            layer, saved = self.layers[index], self._saved[index]
            if isinstance(layer, _Linear):
                if layer.grad_weight.is_contiguous():
                    torch.bmm(saved.transpose(1, 2), d, out=layer.grad_weight)
                else:  # a small weight in the shared block: bmm's strided output is a per-matrix loop
                    layer.grad_weight.copy_(torch.bmm(saved.transpose(1, 2), d))
                if layer.bias is not None:
                    torch.sum(d, dim=1, out=layer.grad_bias)
                if index == 0:
                    break  # the data needs no gradient
                upstream = self._buffer(-1 - index, saved.shape)
                if layer.weight.shape[-1] == 1:  # a one-unit head: an outer product, cheaper than a bmm
                    torch.mul(d, layer.weight.transpose(1, 2), out=upstream)
                else:
                    torch.bmm(d, layer.weight.transpose(1, 2), out=upstream)
                d = upstream
            elif isinstance(layer, nn.ReLU):
                d = torch.ops.aten.threshold_backward.grad_input(d, saved, 0, grad_input=d)  # in place
            elif saved is not None:
                leaf, out = saved
                (d,) = torch.autograd.grad(out, leaf, d)
        self._saved = []


class _Linear:
    """One linear layer of a hand-batched bundle: its parameter and gradient views."""

    def __init__(self, weight, grad_weight, bias, grad_bias):
        self.weight, self.grad_weight, self.bias, self.grad_bias = weight, grad_weight, bias, grad_bias


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


def bundle_model(models: Sequence[nn.Module], sample: torch.Tensor, device: torch.device,
                 seeds: Sequence[int] | None = None, decayed: dict[str, bool] | None = None, hand: bool = True):
    """The batched forward for ``models``; ``sample`` (a couple of inputs) proves it computes what each
    model computes. ``seeds``: each configuration's seed, which its dropout draws from. ``decayed``:
    parameter name -> whether weight decay takes it (the hand-batched MLP keeps the two kinds in
    separate blocks). ``hand=False``: never the hand-batched MLP (its layout transposes and packs the
    parameters)."""
    template = models[0]
    if not all(p.requires_grad for p in template.parameters()):
        raise NotBatchable(f"{type(template).__name__} has frozen parameters (requires_grad=False)")
    if hand and HandBatchedMLP.accepts(template):
        return HandBatchedMLP(template, stack_parameters(models, device), decayed)
    folded = FoldedBundle(models, seeds if seeds is not None else [0] * len(models), torch.device(device))
    why = _differs(folded, models, sample, device)
    if why is None:
        return folded
    if list(template.buffers()):
        raise NotBatchable(f"{type(template).__name__}: the bundled forward {why}, and a model with buffers "
                           "cannot go through torch.func.vmap")
    batched = VmappedModule(template.to(device), stack_parameters(models, device))
    try:
        with torch.no_grad():
            batched.forward(sample.to(device).unsqueeze(0).expand(len(models), *sample.shape))
    except Exception as exc:
        raise NotBatchable(f"the bundled forward {why}, and torch.func.vmap cannot map "
                           f"{type(template).__name__}: {exc}") from exc
    return batched


def _differs(folded: FoldedBundle, models: Sequence[nn.Module], sample: torch.Tensor, device) -> str | None:
    """Why the folded bundle's forward on ``sample`` (eval mode) is not each model's own, or None.

    This guards what the layer swap cannot see: a forward that moves the batch axis (sequence-first
    tensors through a Linear, say) or mixes examples (a mean over the batch)."""
    try:
        with torch.no_grad():  # the models' own failure is the user's to see, not a reason to fall back
            expected = torch.stack([m.eval()(sample) for m in models])
        try:
            with torch.no_grad():
                got = folded.forward_shared(sample.to(device)).cpu()
        except Exception as exc:  # a layer the swap broke: the model is not batchable this way
            return f"fails ({type(exc).__name__}: {exc})"
    finally:
        for m in models:
            m.train()
    if got.shape != expected.shape:
        return f"gives outputs of shape {tuple(got.shape)}, not {tuple(expected.shape)}"
    scale = expected.abs().max().clamp_min(1.0)
    if not torch.allclose(got.float(), expected.float(), rtol=0, atol=CHECK_TOLERANCE * float(scale)):
        return "differs from the models' own outputs (the forward moves or mixes the batch axis)"
    return None
