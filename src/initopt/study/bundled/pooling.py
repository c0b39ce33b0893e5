"""``nn.MaxPool2d`` on the folded batch, through a faster kernel than the one torch picks for it.

Max-pooling has nothing per configuration: it is right on the folded batch as it is. Only its speed
needs a bundled layer: torch's CPU kernel for contiguous (NCHW) tensors walks one small plane at a
time, and on the folded ``(K * B, C, H, W)`` batch of small images it took 8 ms per call where the
channels-last kernel, which runs along the channels, took 0.8 ms (K * B = 1024, 16 x 8 x 8, one
thread). The forward goes through a channels-last copy (with the winners' indices, which are the same
plane offsets as the NCHW kernel's); the backward through torch's NCHW kernel, which is the fast one
there. The numbers are the plain module's exactly: the same maximum, the same winner on ties.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from initopt.study.bundled.base import BundleContext


class _ChannelsLastMaxPool2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode):
        y, indices = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), kernel_size, stride, padding,
                                  dilation, ceil_mode, return_indices=True)
        indices = indices.contiguous()
        ctx.save_for_backward(x, indices)
        ctx.geometry = (kernel_size, stride, padding, dilation, ceil_mode)
        return y.contiguous()

    @staticmethod
    def backward(ctx, grad_out):
        x, indices = ctx.saved_tensors
        kernel_size, stride, padding, dilation, ceil_mode = ctx.geometry
        grad_x = torch.ops.aten.max_pool2d_with_indices_backward(
            grad_out.contiguous(), x, kernel_size, stride, padding, dilation, ceil_mode, indices)
        return grad_x, None, None, None, None, None


def _pair(v) -> list[int]:
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


class BundledMaxPool2d(nn.Module):
    replaces = (nn.MaxPool2d,)
    takes_grouped = True  # study/bundled/grouped.py

    def __init__(self, modules: Sequence[nn.MaxPool2d], context: BundleContext):
        super().__init__()
        self.template = modules[0]
        t = self.template
        self.geometry = (_pair(t.kernel_size), _pair(t.stride if t.stride is not None else t.kernel_size),
                         _pair(t.padding), _pair(t.dilation), bool(t.ceil_mode))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.template.return_indices or x.dim() != 4 or not x.is_floating_point() or x.device.type != "cpu":
            return self.template(x)
        if not torch.is_grad_enabled() or not x.requires_grad:
            kernel_size, stride, padding, dilation, ceil_mode = self.geometry
            return F.max_pool2d(x.contiguous(memory_format=torch.channels_last), kernel_size, stride, padding,
                                dilation, ceil_mode).contiguous()
        return _ChannelsLastMaxPool2d.apply(x, *self.geometry)

    def grouped(self, x: torch.Tensor) -> torch.Tensor:
        """Per plane, so the grouped layout's too; a channels-last input (a grouped run on the CPU)
        goes straight to torch's channels-last kernel."""
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous() and not self.template.return_indices:
            return F.max_pool2d(x, *self.geometry)
        return self.forward(x)
