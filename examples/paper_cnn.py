"""The convolutional network of the MNIST-1D paper, as a model factory for ``initopt study``.

Greydanus & Kobak, "Scaling Down Deep Learning with MNIST-1D", ICML 2024 (arXiv:2011.14439); the
model is ``ConvBase`` of the paper's repository (github.com/greydanus/mnist1d, ``models.py``):
three Conv1d layers of 25 channels (kernels 5, 3, 3; stride 2; padding 1), ReLU after each, the
feature map flattened into one Linear layer. On MNIST-1D's signals of length 40 the feature maps
have lengths 19, 10 and 5, so the head is Linear(25 * 5 = 125, out), as in the paper.

A spec names it ``model = "paper_cnn:build"``; initopt imports the module from the spec's folder
(this one), so ``initopt study run examples/mnist1d_paper_cnn.toml`` runs it from any directory.
"""

from __future__ import annotations

from typing import Any

from torch import nn

KERNELS = (5, 3, 3)
STRIDE, PADDING = 2, 1


def conv_length(length: int, kernel: int, stride: int = STRIDE, padding: int = PADDING) -> int:
    """Output length of a Conv1d: ``floor((L + 2 padding - kernel) / stride) + 1`` (PyTorch's Conv1d docs)."""
    return (length + 2 * padding - kernel) // stride + 1


class PaperCNN(nn.Module):
    """``ConvBase`` of the MNIST-1D paper; the forward is the paper's, line for line."""

    def __init__(self, length: int, out: int, channels: int = 25) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, KERNELS[0], stride=STRIDE, padding=PADDING)
        self.conv2 = nn.Conv1d(channels, channels, KERNELS[1], stride=STRIDE, padding=PADDING)
        self.conv3 = nn.Conv1d(channels, channels, KERNELS[2], stride=STRIDE, padding=PADDING)
        for kernel in KERNELS:
            length = conv_length(length, kernel)
        self.linear = nn.Linear(channels * length, out)  # 125 for length 40 and 25 channels

    def forward(self, x):  # type: ignore[no-untyped-def]
        x = x.view(-1, 1, x.shape[-1])
        h1 = self.conv1(x).relu()
        h2 = self.conv2(h1).relu()
        h3 = self.conv3(h2).relu()
        h3 = h3.view(h3.shape[0], -1)  # flatten the conv features
        return self.linear(h3)


def build(n_features: int, out: int, **options: Any) -> nn.Module:
    """The factory a spec names: ``n_features`` is the signal's length (40), ``out`` the classes (10).

    Option: ``channels`` (25, the paper's). Any other option is an error that names it.
    """
    channels = options.pop("channels", 25)
    if options:
        raise TypeError(f"paper_cnn.build takes the option 'channels' only, got {', '.join(map(repr, options))}")
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a whole number >= 1, got {channels!r}")
    return PaperCNN(n_features, out, channels)
