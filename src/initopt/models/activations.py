"""Activation functions by name, shared by the built-in models."""

from __future__ import annotations

from torch import nn

from initopt._suggest import unknown

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "selu": nn.SELU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "linear": nn.Identity,
}


def activation_names() -> list[str]:
    return sorted(_ACTIVATIONS)


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for ``name`` (case-insensitive, ``-`` same as ``_``)."""
    key = name.strip().lower().replace("-", "_")
    if key not in _ACTIVATIONS:
        raise ValueError(unknown("activation", name, _ACTIVATIONS))
    return _ACTIVATIONS[key]()
