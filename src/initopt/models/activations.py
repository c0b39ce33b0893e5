"""Activation functions by name, shared by the built-in models."""

from __future__ import annotations

import difflib

from torch import nn

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
        close = difflib.get_close_matches(key, _ACTIVATIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown activation {name!r}{hint} valid: {', '.join(activation_names())}")
    return _ACTIVATIONS[key]()
