"""Multi-layer perceptrons: the example model of the texts and the deep initialization stress test."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from initopt.models.activations import make_activation


def mlp(n_features: int, hidden: Sequence[int] = (64,), out: int = 1, activation: str = "relu") -> nn.Sequential:
    """Linear -> activation blocks, then a Linear head that returns logits.

    ``mlp(100, [64], 1)`` is the model of the texts: 100 -> 64 ReLU -> 1. Its sigmoid lives in the
    loss (``bce`` is binary cross-entropy on logits), which is the same function, computed stably.
    """
    sizes = [int(n_features), *(int(h) for h in hidden)]
    if any(size < 1 for size in sizes) or out < 1:
        raise ValueError(f"layer sizes must be positive, got {sizes + [out]}")
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), make_activation(activation)]
    layers.append(nn.Linear(sizes[-1], out))
    return nn.Sequential(*layers)


def deep_mlp(n_features: int, depth: int = 20, width: int = 256, out: int = 1, activation: str = "relu") -> nn.Sequential:
    """``depth`` hidden layers of equal ``width``: where a bad initialization shows first."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    return mlp(n_features, [width] * depth, out, activation)


def describe_mlp(n_features: int, hidden: Sequence[int], out: int, activation: str) -> str:
    """``'MLP 100 -> 64 relu -> 1'``."""
    inner = " -> ".join(f"{h} {activation}" for h in hidden)
    return f"MLP {n_features} -> {inner + ' -> ' if inner else ''}{out}"
