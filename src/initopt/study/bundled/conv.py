"""``nn.Conv1d`` and ``nn.Conv2d`` for K configurations, two ways, chosen by the kernel's shape:

- 1-D kernels (a Conv1d is a Conv2d of height 1): one im2col for the whole folded batch, then one
  ``bmm`` per bundle, ``Y_k = W_k (out, C*kw) @ cols_k (C*kw, B*positions)``, the backward written out.
  On the MNIST-1D paper's CNN (2-core CPU) this ran 1.6x faster than one grouped convolution over
  ``K x C`` channels, which oneDNN runs no faster than K separate convolutions at these sizes.
- 2-D kernels: one grouped convolution over ``K x C`` channels (HFTA's route, Wang et al. 2021): for
  3x3 kernels im2col copies nine times the input, and oneDNN's grouped kernel ran 1.25x faster than it
  on the cnn2d of digits-images.

``groups > 1`` and padding modes other than zeros take the generic path.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from initopt.study.bundled.base import BundleContext, Unsupported, stack


def _tap(t: torch.Tensor, i: int, j: int, out_hw, stride, dilation) -> torch.Tensor:
    """The view of ``t`` (``..., Hp, Wp``) that kernel tap ``(i, j)`` reads for every output position."""
    (ho, wo), (sh, sw), (dh, dw) = out_hw, stride, dilation
    return t[..., i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw]


class _BundledConv2d(torch.autograd.Function):
    """``Y_k = W_k (out, C*kh*kw) @ cols_k (C*kh*kw, B*Ho*Wo) + b_k`` with im2col and its transpose
    (col2im) written as ``kh * kw`` strided copies and additions on a channel-major padded copy of the
    input, so that every copy moves whole rows; the backward by hand: ``dW_k = dY_k cols_k^T``,
    ``dcols_k = W_k^T dY_k``, then col2im."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation):
        k, out_channels, channels, kh, kw = weight.shape
        n, height, width = x.shape[0] // k, x.shape[2], x.shape[3]
        (ph, pw), (sh, sw), (dh, dw) = padding, stride, dilation
        ho = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        wo = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        padded = x.new_empty(k, channels, n, height + 2 * ph, width + 2 * pw)
        for margin in (padded[..., :ph, :], padded[..., ph + height :, :], padded[..., :pw], padded[..., pw + width :]):
            margin.zero_()  # only the padding: the rest is written next
        padded[..., ph : ph + height, pw : pw + width] = x.view(k, n, channels, height, width).transpose(1, 2)
        cols = x.new_empty(k, channels, kh, kw, n, ho, wo)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = _tap(padded, i, j, (ho, wo), stride, dilation)
        cols = cols.view(k, channels * kh * kw, n * ho * wo)
        w = weight.reshape(k, out_channels, -1)
        y = torch.bmm(w, cols) if bias is None else torch.baddbmm(bias.unsqueeze(-1), w, cols)
        ctx.save_for_backward(cols, weight)
        ctx.geometry = (n, height, width, ho, wo, stride, padding, dilation)
        ctx.has_bias = bias is not None
        return y.view(k, out_channels, n, ho, wo).transpose(1, 2).reshape(k * n, out_channels, ho, wo)

    @staticmethod
    def backward(ctx, grad_out):
        cols, weight = ctx.saved_tensors
        n, height, width, ho, wo, stride, (ph, pw), dilation = ctx.geometry
        k, out_channels, channels, kh, kw = weight.shape
        g = grad_out.reshape(k, n, out_channels, ho * wo).transpose(1, 2).reshape(k, out_channels, n * ho * wo)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[1]:
            grad_w = torch.bmm(g, cols.transpose(1, 2)).view(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g.sum(dim=-1)
        if ctx.needs_input_grad[0]:
            grad_cols = torch.bmm(weight.reshape(k, out_channels, -1).transpose(1, 2), g)
            grad_cols = grad_cols.view(k, channels, kh, kw, n, ho, wo)
            padded = g.new_zeros(k, channels, n, height + 2 * ph, width + 2 * pw)
            for i in range(kh):
                for j in range(kw):
                    _tap(padded, i, j, (ho, wo), stride, dilation).add_(grad_cols[:, :, i, j])
            grad_x = padded[..., ph : ph + height, pw : pw + width].transpose(1, 2).reshape(k * n, channels, height, width)
        return grad_x, grad_w, grad_b, None, None, None


def grouped_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride, padding,
                   dilation) -> torch.Tensor:
    """The same as one grouped convolution over ``K x C`` channels (HFTA's route)."""
    k, out_channels = weight.shape[:2]
    n = x.shape[0] // k
    grouped = x.reshape(k, n, *x.shape[1:]).transpose(0, 1).reshape(n, k * x.shape[1], *x.shape[2:])
    y = F.conv2d(grouped, weight.reshape(k * out_channels, *weight.shape[2:]),
                 None if bias is None else bias.reshape(-1), stride, padding, dilation, groups=k)
    return y.reshape(n, k, out_channels, *y.shape[2:]).transpose(0, 1).reshape(k * n, out_channels, *y.shape[2:])


def bundled_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride, padding,
                   dilation) -> torch.Tensor:
    """Folded ``x`` (``K * B, C, H, W``), ``weight`` ``(K, out, C, kh, kw)``, ``bias`` ``(K, out)``."""
    if weight.shape[-2] > 1:  # a 2-D kernel: oneDNN's grouped convolution (see the module's docstring)
        return grouped_conv2d(x, weight, bias, stride, padding, dilation)
    return _BundledConv2d.apply(x, weight, bias, tuple(stride), tuple(padding), tuple(dilation))


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
        padding = _numeric_padding(template)
        # a Conv1d is the Conv2d of height 1
        lift = (lambda t, height: (height, *t)) if self.one_d else (lambda t, height: tuple(t))
        self.stride, self.dilation = lift(template.stride, 1), lift(template.dilation, 1)
        self.padding = lift(padding, 0)
        self.weight = stack(modules, "weight")
        self.bias = stack(modules, "bias")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.unsqueeze(-2) if self.one_d else self.weight
        h = x.unsqueeze(-2) if self.one_d else x
        y = bundled_conv2d(h, weight, self.bias, self.stride, self.padding, self.dilation)
        return y.squeeze(-2) if self.one_d else y
