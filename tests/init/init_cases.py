"""The scheme tables every init test reads: add a row and it is covered everywhere.

Expected statistics are written out here from the papers' formulas, independently of the package's
own arithmetic, so a wrong formula in the package fails against them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import init as I

import initopt.init as ii

# Shapes: a 2-D weight with fan_in != fan_out (so fan_in/fan_out mix-ups show) and a conv weight
# whose fans carry a receptive field (5x5).
WEIGHT_2D = (800, 1250)  # fan_in 1250, fan_out 800, 1e6 entries
WEIGHT_CONV = (64, 32, 5, 5)  # fan_in 800, fan_out 1600, 51200 entries
SHAPES = {"2d": WEIGHT_2D, "conv": WEIGHT_CONV}


def _bernoulli_std(shape: tuple[int, ...]) -> float:
    p = min(shape[0], shape[1]) / math.prod(shape)
    return math.sqrt(p * (1 - p))


def _orthogonal_std(gain: float) -> Callable[[int, int, tuple[int, ...]], float]:
    return lambda fi, fo, shape: gain / math.sqrt(max(shape[0], math.prod(shape[1:])))


# Truncated normals (mean, std, a, b) -> (mean, std, 0.15% quantile, 99.85% quantile) of the drawn
# weights, computed once with scipy.stats.truncnorm((a - mean) / std, (b - mean) / std, mean, std)
# (scipy 1.17); literals keep scipy's 2 s import out of the test run.
TRUNC_ORACLE: dict[tuple[float, float, float, float], tuple[float, float, float, float]] = {
    (0.0, 1.0, -2.0, 2.0): (0.0, 0.8796256610342398, -1.9741581488349798, 1.9741581488349806),
    (0.02, 0.05, -0.04, 0.1): (0.025015185343296373, 0.035193856616711934, -0.039680605643494016, 0.0994436702593089),
    (0.0, 1.0, 1.0, 3.0): (1.5100495132439835, 0.41647677597210964, 1.0009756270887806, 2.9505865060177388),
    (0.0, 0.5, -math.inf, 0.2): (-0.28094135189848146, 0.33894496074400826, -1.547640496136271, 0.19866591242351728),
}
TRUNC_STD_DEFAULT = TRUNC_ORACLE[(0.0, 1.0, -2.0, 2.0)][1]


@dataclass(frozen=True)
class Case:
    """A scheme with its expected mean/std as functions of (fan_in, fan_out, shape) and hard limits."""

    id: str
    scheme: ii.Scheme
    mean: Callable[[int, int, tuple[int, ...]], float]
    std: Callable[[int, int, tuple[int, ...]], float]
    support: Callable[[int, int], tuple[float, float]] | None = None
    shapes: tuple[str, ...] = ("2d", "conv")


def _zero(fi: int, fo: int, shape: tuple[int, ...]) -> float:
    return 0.0


CASES: list[Case] = [
    Case("zeros", ii.zeros(), _zero, _zero, lambda fi, fo: (0.0, 0.0)),
    Case("constant", ii.constant(0.5), lambda *_: 0.5, _zero, lambda fi, fo: (0.5, 0.5)),
    Case("normal", ii.normal(), _zero, lambda *_: 1.0),
    Case("normal_0.3_0.02", ii.normal(mean=0.3, std=0.02), lambda *_: 0.3, lambda *_: 0.02),
    Case("uniform", ii.uniform(), lambda *_: 0.5, lambda *_: 1 / math.sqrt(12), lambda fi, fo: (0.0, 1.0)),
    Case(
        "uniform_-0.2_0.6",
        ii.uniform(-0.2, 0.6),
        lambda *_: 0.2,
        lambda *_: 0.8 / math.sqrt(12),
        lambda fi, fo: (-0.2, 0.6),
    ),
    Case("xavier_normal", ii.xavier_normal(), _zero, lambda fi, fo, s: math.sqrt(2 / (fi + fo))),
    Case("xavier_normal_gain2", ii.xavier_normal(gain=2.0), _zero, lambda fi, fo, s: 2 * math.sqrt(2 / (fi + fo))),
    Case(
        "xavier_uniform",
        ii.xavier_uniform(),
        _zero,
        lambda fi, fo, s: math.sqrt(6 / (fi + fo)) / math.sqrt(3),
        lambda fi, fo: (-math.sqrt(6 / (fi + fo)), math.sqrt(6 / (fi + fo))),
    ),
    Case("he_normal", ii.he_normal(), _zero, lambda fi, fo, s: math.sqrt(2 / fi)),
    Case("he_normal_fan_out", ii.he_normal(mode="fan_out"), _zero, lambda fi, fo, s: math.sqrt(2 / fo)),
    Case(
        "he_normal_leaky_0.2",
        ii.he_normal(nonlinearity="leaky_relu", a=0.2),
        _zero,
        lambda fi, fo, s: math.sqrt(2 / (1 + 0.2**2) / fi),
    ),
    Case("he_normal_tanh", ii.he_normal(nonlinearity="tanh"), _zero, lambda fi, fo, s: 5 / 3 / math.sqrt(fi)),
    Case(
        "he_uniform",
        ii.he_uniform(),
        _zero,
        lambda fi, fo, s: math.sqrt(2 / fi),
        lambda fi, fo: (-math.sqrt(6 / fi), math.sqrt(6 / fi)),
    ),
    Case(
        "he_uniform_selu_fan_out",
        ii.he_uniform(mode="fan_out", nonlinearity="selu"),
        _zero,
        lambda fi, fo, s: 0.75 / math.sqrt(fo),
        lambda fi, fo: (-math.sqrt(3) * 0.75 / math.sqrt(fo), math.sqrt(3) * 0.75 / math.sqrt(fo)),
    ),
    Case("lecun_normal", ii.lecun_normal(), _zero, lambda fi, fo, s: 1 / math.sqrt(fi)),
    Case(
        "lecun_uniform",
        ii.lecun_uniform(),
        _zero,
        lambda fi, fo, s: 1 / math.sqrt(fi),
        lambda fi, fo: (-math.sqrt(3 / fi), math.sqrt(3 / fi)),
    ),
    Case("orthogonal", ii.orthogonal(), _zero, _orthogonal_std(1.0)),
    Case("orthogonal_gain2", ii.orthogonal(gain=2.0), _zero, _orthogonal_std(2.0)),
    Case("trunc_normal", ii.trunc_normal(), _zero, lambda *_: TRUNC_STD_DEFAULT, lambda fi, fo: (-2.0, 2.0)),
    Case(
        "identity", ii.identity(), lambda fi, fo, s: min(s[0], s[1]) / math.prod(s), lambda fi, fo, s: _bernoulli_std(s)
    ),
    # a model-wide scheme draws its plain-weight rule per tensor: N(0, 0.02^2) (GPT-2)
    Case("gpt2", ii.gpt2(), _zero, lambda *_: 0.02),
    Case("gpt2_std_0.1", ii.gpt2(std=0.1, embedding="lecun_normal", head="zeros"), _zero, lambda *_: 0.1),
    Case(
        "dirac",
        ii.dirac(),
        lambda fi, fo, s: min(s[0], s[1]) / math.prod(s),
        lambda fi, fo, s: _bernoulli_std(s),
        shapes=("conv",),
    ),
]

# The same draw through torch.nn.init: (id, our scheme, torch's call on (tensor, generator)).
TorchFill = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
TORCH_EQUIVALENTS: list[tuple[str, ii.Scheme, TorchFill]] = [
    ("zeros", ii.zeros(), lambda w, g: I.zeros_(w)),
    ("constant", ii.constant(0.5), lambda w, g: I.constant_(w, 0.5)),
    ("normal", ii.normal(), lambda w, g: I.normal_(w, generator=g)),
    ("normal_0.3_0.02", ii.normal(0.3, 0.02), lambda w, g: I.normal_(w, 0.3, 0.02, generator=g)),
    ("uniform", ii.uniform(), lambda w, g: I.uniform_(w, generator=g)),
    ("uniform_-0.2_0.6", ii.uniform(-0.2, 0.6), lambda w, g: I.uniform_(w, -0.2, 0.6, generator=g)),
    ("xavier_normal", ii.xavier_normal(gain=1.5), lambda w, g: I.xavier_normal_(w, gain=1.5, generator=g)),
    ("xavier_uniform", ii.xavier_uniform(), lambda w, g: I.xavier_uniform_(w, generator=g)),
    ("he_normal", ii.he_normal(), lambda w, g: I.kaiming_normal_(w, nonlinearity="relu", generator=g)),
    (
        "he_normal_fan_out",
        ii.he_normal(mode="fan_out"),
        lambda w, g: I.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", generator=g),
    ),
    (
        "he_normal_leaky_0.2",
        ii.he_normal(nonlinearity="leaky_relu", a=0.2),
        lambda w, g: I.kaiming_normal_(w, a=0.2, generator=g),
    ),
    # Our leaky_relu default slope is calculate_gain's 0.01 (torch's kaiming_* default a=0).
    (
        "he_normal_leaky_default",
        ii.he_normal(nonlinearity="leaky_relu"),
        lambda w, g: I.kaiming_normal_(w, a=0.01, generator=g),
    ),
    ("he_uniform", ii.he_uniform(), lambda w, g: I.kaiming_uniform_(w, nonlinearity="relu", generator=g)),
    (
        "he_uniform_tanh_fan_out",
        ii.he_uniform(mode="fan_out", nonlinearity="tanh"),
        lambda w, g: I.kaiming_uniform_(w, mode="fan_out", nonlinearity="tanh", generator=g),
    ),
    ("lecun_normal", ii.lecun_normal(), lambda w, g: I.kaiming_normal_(w, nonlinearity="linear", generator=g)),
    ("lecun_uniform", ii.lecun_uniform(), lambda w, g: I.kaiming_uniform_(w, nonlinearity="linear", generator=g)),
    ("orthogonal", ii.orthogonal(gain=2.0), lambda w, g: I.orthogonal_(w, gain=2.0, generator=g)),
    ("trunc_normal", ii.trunc_normal(), lambda w, g: I.trunc_normal_(w, generator=g)),
    (
        "trunc_normal_narrow",  # mass in [a, b] < 0.3: torch's other sampling path
        ii.trunc_normal(mean=0.0, std=1.0, a=1.0, b=3.0),
        lambda w, g: I.trunc_normal_(w, 0.0, 1.0, 1.0, 3.0, generator=g),
    ),
    ("identity", ii.identity(), lambda w, g: I.eye_(w) if w.dim() == 2 else I.dirac_(w)),
    ("gpt2", ii.gpt2(), lambda w, g: I.normal_(w, 0.0, 0.02, generator=g)),
]
