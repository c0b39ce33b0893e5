"""A small 1-D convolutional network for sequence inputs such as mnist1d (40 samples, 10 classes)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from initopt.models.activations import make_activation


class CNN1d(nn.Module):
    """Conv1d blocks (kernel 5, stride 2) over a single-channel sequence, global average pool, Linear head."""

    def __init__(self, length: int, out: int, channels: Sequence[int] = (32, 32, 32), activation: str = "relu"):
        super().__init__()
        blocks: list[nn.Module] = []
        in_channels = 1
        for width in channels:
            blocks += [nn.Conv1d(in_channels, width, kernel_size=5, stride=2, padding=2), make_activation(activation)]
            in_channels = width
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(in_channels, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.reshape(x.shape[0], 1, -1))
        return self.head(h.mean(dim=-1))
