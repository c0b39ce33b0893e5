"""Fans and gains against torch.nn.init's own functions."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.init import _calculate_fan_in_and_fan_out as torch_fans

from initopt.init import NONLINEARITIES, calculate_gain, compute_fans
from initopt.init.fans import select_fan

LAYERS = {
    "linear": nn.Linear(7, 5),
    "conv1d": nn.Conv1d(6, 4, 3),
    "conv2d": nn.Conv2d(6, 4, (3, 5)),
    "conv2d_groups": nn.Conv2d(6, 4, (3, 5), groups=2),
    "conv3d_groups": nn.Conv3d(4, 8, 3, groups=4),
    "conv_transpose1d": nn.ConvTranspose1d(6, 4, 3),
    "conv_transpose2d_groups": nn.ConvTranspose2d(6, 4, 3, groups=2),
    "embedding": nn.Embedding(11, 7),
    "bilinear": nn.Bilinear(3, 4, 5),
}


@pytest.mark.parametrize("layer", LAYERS.values(), ids=LAYERS.keys())
def test_fans_equal_torch(layer: nn.Module) -> None:
    weight = layer.weight
    assert compute_fans(weight) == torch_fans(weight)
    assert compute_fans(tuple(weight.shape)) == torch_fans(weight)
    assert compute_fans(weight.shape) == torch_fans(weight)


@pytest.mark.parametrize(
    ("shape", "fans"),
    [((7, 5), (5, 7)), ((4, 3, 3, 5), (45, 60)), ((4, 1, 3, 3), (9, 36)), ((13,), (13, 13)), ((1,), (1, 1))],
)
def test_fans_table(shape: tuple[int, ...], fans: tuple[int, int]) -> None:
    # Rows of (out, in, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel);
    # 1-D: fan_in = fan_out = length (Keras's convention; torch raises).
    assert compute_fans(shape) == fans


def test_fans_of_0d_raise() -> None:
    with pytest.raises(ValueError, match="0-D"):
        compute_fans(torch.tensor(1.0))


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_gain_equals_torch(nonlinearity: str) -> None:
    assert calculate_gain(nonlinearity) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity), rel=1e-15)


@pytest.mark.parametrize("slope", [None, 0, 0.2, 1, 5.0])
def test_leaky_relu_gain_equals_torch(slope: float | None) -> None:
    assert calculate_gain("leaky_relu", slope) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", slope), rel=1e-15
    )


@pytest.mark.parametrize(
    ("nonlinearity", "param", "match"),
    [
        ("rleu", None, "did you mean 'relu'"),
        ("gelu", None, "valid: conv1d"),
        ("leaky_relu", True, "slope"),
        ("leaky_relu", "x", "slope"),
    ],
)
def test_bad_gain_arguments(nonlinearity: str, param: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        calculate_gain(nonlinearity, param)  # type: ignore[arg-type]


def test_select_fan() -> None:
    assert select_fan("fan_in", 3, 5) == 3 and select_fan("fan_out", 3, 5) == 5
    with pytest.raises(ValueError, match="fan_out"):
        select_fan("fan_out", 3, None)
    with pytest.raises(ValueError, match="did you mean 'fan_in'"):
        select_fan("fanin", 3, 5)
