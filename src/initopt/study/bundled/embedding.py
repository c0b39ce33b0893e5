"""``nn.Embedding`` for K configurations: the K tables as one ``(K * num, dim)`` table, each
configuration's ids shifted by ``k * num``, one lookup (and one dense gradient) for the bundle."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from initopt.study.bundled.base import BundleContext, Unsupported, stack


class _Lookup(torch.autograd.Function):
    """``table[ids]`` whose backward adds the output's gradient into a zeroed dense gradient with one
    ``index_add_`` (torch's ``embedding_dense_backward`` sorts the ids first: 3-5x slower here).

    ``grad_buffer``, when given, is that gradient, zeroed and reused every step: a new table-sized
    tensor per step cost 10x its zeroing on the CPU (fresh pages from the OS)."""

    @staticmethod
    def forward(ctx, table, ids, grad_buffer):
        ctx.save_for_backward(ids)
        ctx.rows, ctx.grad_buffer = table.shape[0], grad_buffer
        return torch.index_select(table, 0, ids)

    @staticmethod
    def backward(ctx, grad_out):
        (ids,) = ctx.saved_tensors
        grad = ctx.grad_buffer
        grad = grad_out.new_zeros(ctx.rows, grad_out.shape[-1]) if grad is None else grad.zero_()
        return grad.index_add_(0, ids, grad_out.reshape(-1, grad_out.shape[-1])), None, None


def row_shift(k: int, num: int, device: torch.device) -> torch.Tensor:
    """``(K, 1)`` offsets ``k * num``: configuration ``k``'s ids moved into its part of the folded table."""
    return torch.arange(k, device=device).mul_(num).view(k, 1)


def bundled_embedding(ids: torch.Tensor, weight: torch.Tensor, grad_buffer: torch.Tensor | None = None,
                      shift: torch.Tensor | None = None) -> torch.Tensor:
    """Folded ``ids`` (``K * B, ...``) looked up in ``weight`` ``(K, num, dim)``: row ``k`` of the
    bundle reads table ``k``. ``shift``: :func:`row_shift`'s offsets, where the caller keeps them."""
    k, num, dim = weight.shape
    shift = row_shift(k, num, ids.device) if shift is None else shift
    shifted = torch.add(ids.reshape(k, -1), shift).view(-1)
    return _Lookup.apply(weight.view(k * num, dim), shifted, grad_buffer).view(*ids.shape, dim)


class BundledEmbedding(nn.Module):
    replaces = (nn.Embedding,)

    def __init__(self, modules: Sequence[nn.Embedding], context: BundleContext):
        super().__init__()
        template = modules[0]
        for option in ("padding_idx", "max_norm"):
            if getattr(template, option) is not None:
                raise Unsupported(f"{option}={getattr(template, option)}")
        if template.sparse:
            raise Unsupported("sparse=True")
        self.weight = stack(modules, "weight")
        self.context = context
        self._grad: torch.Tensor | None = None
        self._shift: torch.Tensor | None = None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self._shift is None or self._shift.device != ids.device:
            self._shift = row_shift(self.weight.shape[0], self.weight.shape[1], ids.device)
        if not (torch.is_grad_enabled() and self.context.reuse_gradients):
            return bundled_embedding(ids, self.weight, shift=self._shift)
        if self._grad is None or self._grad.device != self.weight.device:
            self._grad = torch.empty(self.weight.shape[0] * self.weight.shape[1], self.weight.shape[2],
                                     dtype=self.weight.dtype, device=self.weight.device)
        return bundled_embedding(ids, self.weight, self._grad, self._shift)
