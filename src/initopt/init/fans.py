"""Fans and gains: the two numbers every variance-scaling initializer is built from.

``fan_in`` is the number of inputs that feed one output unit, ``fan_out`` the number of outputs one
input unit feeds. We follow PyTorch's convention (``torch.nn.init._calculate_fan_in_and_fan_out``)
so that our schemes draw exactly what ``torch.nn.init`` draws for the same tensor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from initopt.init._validate import unknown_choice_message

__all__ = ["FAN_MODES", "NONLINEARITIES", "calculate_gain", "compute_fans", "select_fan"]

#: Nonlinearities whose gain is 1 (they are linear, or sigmoid, whose gain torch also sets to 1).
_LINEAR_NONLINEARITIES = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)
#: The names ``calculate_gain`` accepts: torch.nn.init.calculate_gain's table, nothing more.
NONLINEARITIES: tuple[str, ...] = (*_LINEAR_NONLINEARITIES, "tanh", "relu", "leaky_relu", "selu")
#: torch's default negative slope for ``leaky_relu`` when none is given (``nn.LeakyReLU`` default).
DEFAULT_LEAKY_RELU_SLOPE = 0.01
FAN_MODES: tuple[str, ...] = ("fan_in", "fan_out")


def compute_fans(tensor_or_shape: torch.Tensor | Sequence[int]) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight tensor (or of its shape).

    For a tensor of shape ``(out, in, *kernel)``::

        receptive_field = prod(kernel)        (1 for a 2-D weight)
        fan_in  = size(1) * receptive_field
        fan_out = size(0) * receptive_field

    This is ``torch.nn.init._calculate_fan_in_and_fan_out``, so for ``nn.Linear`` (``(out, in)``)
    ``fan_in = in``; for a grouped ``nn.Conv2d`` ``fan_in = in_channels / groups * kh * kw``; for
    ``nn.ConvTranspose2d`` (weight ``(in, out / groups, kh, kw)``) torch reads size(1) as the fan-in,
    and so do we; for ``nn.Embedding`` (``(num_embeddings, dim)``) ``fan_in = dim``.

    1-D tensors (biases, norm scales): torch raises; we use ``fan_in = fan_out = len`` (Keras's
    convention in ``keras.initializers``' ``compute_fans``). 0-D tensors raise ``ValueError``.
    """
    shape = tuple(tensor_or_shape.shape) if isinstance(tensor_or_shape, torch.Tensor) else tuple(tensor_or_shape)
    if len(shape) == 0:
        raise ValueError("fans are undefined for a 0-D tensor (shape ()); give fan_in/fan_out explicitly")
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def select_fan(mode: str, fan_in: int, fan_out: int | None) -> int:
    """Return the fan a ``mode`` ('fan_in' or 'fan_out') names; ``fan_out`` must be known for 'fan_out'."""
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        if fan_out is None:
            raise ValueError("mode='fan_out' needs fan_out; got fan_out=None")
        return fan_out
    raise ValueError(unknown_choice_message("mode", mode, FAN_MODES))


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Return the recommended gain for ``nonlinearity`` (``torch.nn.init.calculate_gain``'s table).

    =================================  ==========================================
    nonlinearity                       gain
    =================================  ==========================================
    linear, conv*, conv_transpose*     1
    sigmoid                            1
    tanh                               5/3
    relu                               sqrt(2)                 (He et al. 2015)
    leaky_relu                         sqrt(2 / (1 + a^2)), ``a = param`` (0.01 if None)
    selu                               3/4  (torch's empirical value; use 'linear' for SNN's 1/N)
    =================================  ==========================================

    The gain multiplies the std: ``std = gain / sqrt(fan)``. Returns a float (torch returns the int
    1 for the linear group; the values are equal).
    """
    if nonlinearity in _LINEAR_NONLINEARITIES:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = DEFAULT_LEAKY_RELU_SLOPE
        elif isinstance(param, (int, float)) and not isinstance(param, bool) and math.isfinite(param):
            slope = float(param)
        else:
            raise ValueError(f"leaky_relu negative slope (param) must be a finite number; got {param!r}")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(unknown_choice_message("nonlinearity", nonlinearity, NONLINEARITIES))
