"""``nn.Conv1d`` and ``nn.Conv2d`` for K configurations, two ways, chosen by the kernel's shape:

- Conv1d: one im2col for the whole folded batch, then one ``bmm`` per bundle, ``Y_k = W_k (out, C*kw) @ cols_k (C*kw, B*positions)``, the backward written out.
  On the MNIST-1D paper's CNN (2-core CPU) this ran 1.6x faster than one grouped convolution over
  ``K x C`` channels, which oneDNN runs no faster than K separate convolutions at these sizes.
- Conv2d: one grouped convolution over ``K x C`` channels (HFTA's route, Wang et al. 2021): for
  3x3 kernels im2col copies nine times the input, and oneDNN's grouped kernel ran 1.25x faster than it
  on the cnn2d of digits-images.

``groups > 1`` and padding modes other than zeros take the generic path.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from initopt.study.bundled.base import BundleContext, Unsupported, from_channels, stack, to_channels


def _tap(t: torch.Tensor, j: int, positions: int, stride: int, dilation: int) -> torch.Tensor:
    """The view of ``t`` (``..., length``) that kernel tap ``j`` reads for every output position."""
    return t[..., j * dilation : j * dilation + stride * (positions - 1) + 1 : stride]


def _buffer(workspace: dict | None, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """An uninitialized tensor of ``shape``, the same one every step when a workspace is given: a fresh
    tensor of a few MB cost 7x its copy on the CPU (new pages from the OS on every step)."""
    if workspace is None:
        return like.new_empty(shape)
    key = (name, shape)
    if key not in workspace:
        workspace[key] = like.new_empty(shape)
    return workspace[key]


class _BundledConv1d(torch.autograd.Function):
    """``Y_k = W_k (out, C*kw) @ cols_k (C*kw, B*positions) + b_k``, the backward by hand:
    ``dW_k = dY_k cols_k^T``, ``dcols_k = W_k^T dY_k``, then col2im. im2col and col2im are ``kw``
    strided copies and additions on a channel-major padded copy of the input ``(K, C, B, length)``,
    whose layout change from the folded ``(K, B, C, length)`` moves whole rows."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride: int, padding: int, dilation: int, workspace: dict | None):
        k, out_channels, channels, kw = weight.shape
        n, length = x.shape[0] // k, x.shape[2]
        positions = (length + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
        padded = _buffer(workspace, "padded", (k, channels, n, length + 2 * padding), x)
        padded[..., :padding].zero_()  # only the padding: the rest is written next
        padded[..., padding + length :].zero_()
        padded[..., padding : padding + length] = x.view(k, n, channels, length).transpose(1, 2)
        cols = _buffer(workspace, "cols", (k, channels, kw, n, positions), x)
        for j in range(kw):
            cols[:, :, j] = _tap(padded, j, positions, stride, dilation)
        cols = cols.view(k, channels * kw, n * positions)
        w = weight.reshape(k, out_channels, -1)
        y = torch.bmm(w, cols) if bias is None else torch.baddbmm(bias.unsqueeze(-1), w, cols)
        ctx.save_for_backward(cols, weight)
        ctx.geometry = (n, length, positions, stride, padding, dilation)
        ctx.has_bias, ctx.workspace = bias is not None, workspace
        return y.view(k, out_channels, n, positions).transpose(1, 2).reshape(k * n, out_channels, positions)

    @staticmethod
    def backward(ctx, grad_out):
        cols, weight = ctx.saved_tensors
        n, length, positions, stride, padding, dilation = ctx.geometry
        k, out_channels, channels, kw = weight.shape
        g = grad_out.reshape(k, n, out_channels, positions).transpose(1, 2).reshape(k, out_channels, n * positions)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[1]:
            grad_w = torch.bmm(g, cols.transpose(1, 2)).view(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g.sum(dim=-1)
        if ctx.needs_input_grad[0]:
            grad_cols = torch.bmm(weight.reshape(k, out_channels, -1).transpose(1, 2), g)
            grad_cols = grad_cols.view(k, channels, kw, n, positions)
            padded = _buffer(ctx.workspace, "grad_padded", (k, channels, n, length + 2 * padding), g).zero_()
            for j in range(kw):
                _tap(padded, j, positions, stride, dilation).add_(grad_cols[:, :, j])
            grad_x = padded[..., padding : padding + length].transpose(1, 2).reshape(k * n, channels, length)
        return grad_x, grad_w, grad_b, None, None, None, None


def bundled_conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int,
                   dilation: int, workspace: dict | None = None) -> torch.Tensor:
    """Folded ``x`` (``K * B, C, L``), ``weight`` ``(K, out, C, kw)``, ``bias`` ``(K, out)``. With a
    ``workspace`` (a dict the caller keeps), the im2col buffers are reused from step to step: only
    where each step's backward runs before the next step's forward."""
    return _BundledConv1d.apply(x, weight, bias, stride, padding, dilation, workspace)


def grouped_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride, padding,
                   dilation) -> torch.Tensor:
    """Folded ``x`` (``K * B, C, H, W``), ``weight`` ``(K, out, C, kh, kw)``, ``bias`` ``(K, out)``, as
    one grouped convolution over ``K x C`` channels (HFTA's route)."""
    k = weight.shape[0]
    return from_channels(grouped_conv2d_on_channels(to_channels(x, k), weight, bias, stride, padding, dilation), k)


def grouped_conv2d_on_channels(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride, padding,
                               dilation) -> torch.Tensor:
    """The same on the grouped layout: ``x`` ``(B, K * C, H, W)`` -> ``(B, K * out, H', W')``."""
    k, out_channels = weight.shape[:2]
    return F.conv2d(x, weight.reshape(k * out_channels, *weight.shape[2:]), None if bias is None else bias.reshape(-1),
                    stride, padding, dilation, groups=k)


def _numeric_padding(module: nn.Module) -> tuple[int, ...]:
    if module.padding_mode != "zeros":
        raise Unsupported(f"padding_mode={module.padding_mode!r}")
    if module.padding == "valid":
        return (0,) * len(module.kernel_size)
    if module.padding == "same":
        total = [d * (k - 1) for d, k in zip(module.dilation, module.kernel_size)]
        if any(t % 2 for t in total):
            raise Unsupported("padding='same' with an even kernel")
        return tuple(t // 2 for t in total)
    return tuple(module.padding)


class BundledConv(nn.Module):
    replaces = (nn.Conv1d, nn.Conv2d)

    def __init__(self, modules: Sequence[nn.Conv1d | nn.Conv2d], context: BundleContext):
        super().__init__()
        template = modules[0]
        if template.groups != 1:
            raise Unsupported(f"groups={template.groups}")
        self.one_d = isinstance(template, nn.Conv1d)
        self.stride, self.padding, self.dilation = tuple(template.stride), _numeric_padding(template), tuple(template.dilation)
        self.weight = stack(modules, "weight")
        self.bias = stack(modules, "bias")
        self.context = context
        self._workspace: dict = {}
        self.takes_grouped = not self.one_d  # the 2-D convolution computes in the grouped layout

    def grouped(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, K * C, H, W)`` -> ``(B, K * out, H', W')`` (study/bundled/grouped.py)."""
        return grouped_conv2d_on_channels(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.one_d:
            reuse = self.context.reuse_gradients and torch.is_grad_enabled()
            return bundled_conv1d(x, self.weight, self.bias, self.stride[0], self.padding[0], self.dilation[0],
                                  self._workspace if reuse else None)
        return grouped_conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
