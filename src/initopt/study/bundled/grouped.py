"""Runs of convolution, batch norm, activation and pooling inside an ``nn.Sequential``, computed in
the grouped layout from the run's first layer to its last.

A bundled Conv2d and BatchNorm each compute in the grouped layout ``(B, K * C, H, W)`` (one grouped
convolution, one batch norm over ``K * C`` channels: :mod:`~initopt.study.bundled.conv`,
:mod:`~initopt.study.bundled.batchnorm`) and copy back to the folded ``(K * B, C, H, W)`` after each
layer, so that whatever the user's forward does next sees the folded batch. Between two such layers
those copies cancel: on the cnn2d of digits-images (K=32) they were a quarter of an epoch. Activations
and pooling act on each example's planes alone, so they are right in either layout. Where an
``nn.Sequential`` holds a run of such layers (the usual ``Conv2d, BatchNorm2d, ReLU, MaxPool2d``
block, and runs of blocks), the run is computed in the grouped layout with one copy in and one out.
On the CPU the run's images are also laid out channels-last (``(B, H, W, K * C)`` in memory): oneDNN's
convolution, batch norm and max-pool take that layout as it is, and one epoch of the cnn2d bundle
(K=32, one thread) took 1.32 s against 1.68 s in NCHW (medians of six, alternated in one process).
The numbers are the layer-by-layer ones up to the order of the sums inside torch's kernels.

A layer takes part when it is a bundled layer that ``takes_grouped`` (its ``grouped`` method maps
``(B, K * C, ...)`` to ``(B, K * C', ...)``) or a module of ``PER_PLANE`` (no parameters; elementwise
or per plane).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from initopt.study.bundled.base import from_channels, to_channels

#: Modules without parameters that act on each example's channels one plane (or element) at a time.
PER_PLANE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Tanh,
             nn.Sigmoid, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Softplus, nn.Identity, nn.AvgPool2d,
             nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def _grouped(module: nn.Module) -> bool:
    return bool(getattr(module, "takes_grouped", False))


def _joins(module: nn.Module) -> bool:
    return _grouped(module) or type(module) in PER_PLANE


def grouped_runs(layers: list[nn.Module]) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run worth computing grouped: the longest stretches of layers that join,
    holding two layers or more that take the grouped layout, and parameters (a run of pooling alone
    would only add copies)."""
    runs, start = [], None
    for i, layer in enumerate([*layers, None]):
        if layer is not None and _joins(layer):
            start = i if start is None else start
            continue
        if start is not None:
            members = [j for j in range(start, i) if _grouped(layers[j])]
            if len(members) >= 2 and any(True for j in members for _ in layers[j].parameters()):
                runs.append((start, i))
            start = None
    return runs


class GroupedSequential(nn.Sequential):
    """An ``nn.Sequential`` of bundled layers whose runs (:func:`grouped_runs`) go through the grouped
    layout; its children keep their names, so its parameters keep the user's names."""

    def __init__(self, modules: "OrderedDict[str, nn.Module]", runs: list[tuple[int, int]], k: int):
        super().__init__(modules)
        self.runs, self.k = runs, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = list(self._modules.values())
        starts = dict(self.runs)
        i = 0
        while i < len(layers):
            if i in starts:
                g = to_channels(x, self.k)
                if g.dim() == 4 and g.device.type == "cpu":
                    g = g.contiguous(memory_format=torch.channels_last)
                for layer in layers[i : starts[i]]:
                    g = layer.grouped(g) if _grouped(layer) else layer(g)
                x, i = from_channels(g, self.k), starts[i]
            else:
                x, i = layers[i](x), i + 1
        return x


def group_runs(sequential: nn.Sequential, k: int) -> nn.Sequential:
    """``sequential`` (its children already bundled) as a :class:`GroupedSequential` where it holds a run,
    else unchanged."""
    runs = grouped_runs(list(sequential._modules.values()))
    return GroupedSequential(OrderedDict(sequential._modules), runs, k) if runs else sequential
