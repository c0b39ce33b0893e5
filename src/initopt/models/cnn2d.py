"""A small 2-D convolutional network for images: 8x8 digits up to CIFAR-sized inputs.

``depth`` blocks of Conv2d 3x3 (padding 1, so the size is kept; no bias when a BatchNorm2d follows)
-> BatchNorm2d (optional) -> activation, each
followed by a 2x2 max-pool while the image is at least 4 pixels on both sides (8x8 digits: 8 -> 4 ->
2; 32x32: 32 -> 16 -> 8 -> ...); then a global average pool, so the head's width is the last
block's channels whatever the image size, and a Linear head.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from initopt.models.activations import make_activation
from initopt.models.options import ModelOptionError

#: Pool (2x2) after a block only while both sides are at least this long, so no side drops below 2.
_MIN_SIDE_TO_POOL = 4


def image_shape(input_shape: Sequence[int], n_features: int) -> tuple[int, int, int]:
    """``(C, H, W)`` of one example: ``(C, H, W)`` as is, ``(H, W)`` as one channel, and a flat
    ``(n,)`` with ``n`` a perfect square as a square single-channel image (digits: 64 -> 1x8x8)."""
    shape = tuple(int(s) for s in input_shape) or (int(n_features),)
    if len(shape) == 3:
        return shape  # type: ignore[return-value]
    if len(shape) == 2:
        return (1, *shape)  # type: ignore[return-value]
    side = math.isqrt(shape[0]) if len(shape) == 1 else 0
    if len(shape) == 1 and side * side == shape[0]:
        return (1, side, side)
    raise ModelOptionError(
        "image_shape",
        f"model 'cnn2d' needs images: inputs of shape {shape} are not (C, H, W), (H, W) or a flat square;"
        " give the option image_shape = [C, H, W]",
    )


class CNN2d(nn.Module):
    """Conv2d blocks over ``(N, C, H, W)`` images (flat inputs are reshaped to ``image``), a Linear head."""

    def __init__(
        self,
        image: tuple[int, int, int],
        out: int,
        channels: Sequence[int] = (32, 32),
        batchnorm: bool = True,
        activation: str = "relu",
    ):
        super().__init__()
        self.image = tuple(image)
        in_channels, height, width = self.image
        blocks: list[nn.Module] = []
        for width_out in channels:
            # BatchNorm subtracts the per-channel mean, which cancels a conv bias: leave it out then
            blocks.append(nn.Conv2d(in_channels, width_out, kernel_size=3, padding=1, bias=not batchnorm))
            if batchnorm:
                blocks.append(nn.BatchNorm2d(width_out))
            blocks.append(make_activation(activation))
            if min(height, width) >= _MIN_SIDE_TO_POOL:
                blocks.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            in_channels = width_out
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(in_channels, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.reshape(x.size(0), *self.image))
        return self.head(self.pool(h).flatten(1))
