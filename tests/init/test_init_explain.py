"""explain(): the numbers, the formula text, and intervals that really hold 99.7% of the draws."""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import pytest
import torch
from init_cases import TRUNC_ORACLE

import initopt.init as ii
from initopt.init.distributions import bernoulli_interval, truncated_normal_moments

Z_99_7 = NormalDist().inv_cdf(0.9985)  # 2.9677


def test_he_normal_fan_in_100() -> None:
    e = ii.explain("he_normal", fan_in=100)
    assert e.std == pytest.approx(0.141421356, rel=1e-8) and e.variance == pytest.approx(0.02, rel=1e-12)
    assert e.gain == pytest.approx(math.sqrt(2))
    assert e.interval_99_7 == pytest.approx((-0.4197, 0.4197), abs=1e-4)
    assert e.interval_99_7[1] / e.std == pytest.approx(Z_99_7, rel=1e-12)  # exact quantile, not 3 sigma
    assert e.bound is None and e.support is None
    assert "Var(W) = 2 / fan_in = 2 / 100 = 0.02" in e.formula
    text = str(e)
    assert "0.1414" in text and "[-0.4197, 0.4197]" in text and "[-0.01, 0.01]" in text
    assert any("not confined to [-0.01, 0.01]" in note for note in e.notes)
    assert any("not gain^2 / (fan_in - 1)" in note for note in e.notes)


@pytest.mark.parametrize(
    ("name", "fan_out", "params"),
    [
        ("xavier_normal", None, {}),
        ("xavier_uniform", None, {}),
        ("orthogonal", None, {}),
        ("identity", None, {}),
        ("he_normal", None, {"mode": "fan_out"}),
    ],
)
def test_schemes_needing_fan_out_say_so(name: str, fan_out: int | None, params: dict) -> None:
    with pytest.raises(ValueError, match="fan_out"):
        ii.explain(name, 100, fan_out, **params)


@pytest.mark.parametrize(
    ("name", "fan_in", "fan_out", "params", "bound", "support"),
    [
        ("he_uniform", 100, None, {}, math.sqrt(6 / 100), None),
        ("xavier_uniform", 100, 50, {}, math.sqrt(6 / 150), None),
        ("lecun_uniform", 300, None, {}, math.sqrt(3 / 300), None),
        ("uniform", 10, None, {"a": -1.0, "b": 3.0}, 3.0, (-1.0, 3.0)),
    ],
)
def test_uniform_bound_and_interval(
    name: str, fan_in: int, fan_out: int | None, params: dict, bound: float, support
) -> None:  # type: ignore[no-untyped-def]
    e = ii.explain(name, fan_in, fan_out, **params)
    assert e.bound == pytest.approx(bound, rel=1e-12)
    low, high = support or (-bound, bound)
    assert e.support == pytest.approx((low, high))
    centre, half = (low + high) / 2, (high - low) / 2
    assert e.interval_99_7 == pytest.approx((centre - 0.997 * half, centre + 0.997 * half), rel=1e-12)


@pytest.mark.parametrize(("params", "oracle"), TRUNC_ORACLE.items(), ids=[str(k) for k in TRUNC_ORACLE])
def test_trunc_normal_interval_is_the_exact_quantiles(params: tuple[float, ...], oracle: tuple[float, ...]) -> None:
    mean, std, a, b = params
    e = ii.explain("trunc_normal", 10, mean=mean, std=std, a=a, b=b)
    assert e.std == pytest.approx(oracle[1], rel=1e-9)
    assert e.interval_99_7 == pytest.approx(oracle[2:], rel=1e-7)
    assert e.support == (a, b) and e.bound is None


@pytest.mark.parametrize(
    ("spec", "fan_in", "fan_out"),
    [
        ("he_normal", 100, None),
        ("he_uniform", 100, None),
        ("trunc_normal", 1, None),
        ({"name": "trunc_normal", "a": 1.0, "b": 3.0}, 1, None),
        ("orthogonal", 500, 400),
    ],
    ids=["he_normal", "he_uniform", "trunc_normal", "trunc_normal_narrow", "orthogonal"],
)
def test_interval_holds_99_7_percent_of_the_draws(spec, fan_in: int, fan_out: int | None) -> None:  # type: ignore[no-untyped-def]
    e = ii.explain(spec, fan_in, fan_out)
    weights = ii.get(spec)(
        torch.empty(400, 500, dtype=torch.float64), generator=torch.Generator().manual_seed(0), fan_in=fan_in
    )
    low, high = e.interval_99_7
    inside = float(((weights >= low) & (weights <= high)).double().mean())
    # binomial standard error sqrt(0.997 * 0.003 / 2e5) = 1.2e-4; orthogonal entries are near-normal.
    assert inside == pytest.approx(0.997, abs=6e-4)


@pytest.mark.parametrize(("name", "params", "value"), [("zeros", {}, 0.0), ("constant", {"value": 0.5}, 0.5)])
def test_constant_schemes(name: str, params: dict, value: float) -> None:
    e = ii.explain(name, 100, **params)
    assert e.interval_99_7 == (value, value) and e.std == 0 and e.support == (value, value)
    assert any("symmetry" in note and "vanishing" in note for note in e.notes)


def test_orthogonal_is_marked_approximate() -> None:
    e = ii.explain("orthogonal", 100, 50, gain=2.0)
    assert e.std == pytest.approx(2 / math.sqrt(100)) and e.gain == 2.0
    assert any(note.startswith("approximate") for note in e.notes)


@pytest.mark.parametrize(
    ("name", "kwargs", "gain"),
    [
        ("he_normal", {"nonlinearity": "tanh"}, 5 / 3),
        ({"name": "he_normal", "nonlinearity": "selu"}, {"nonlinearity": "tanh"}, 0.75),  # the dict's own wins
        (ii.he_normal(nonlinearity="linear"), {"nonlinearity": "tanh"}, 1.0),  # so does a Scheme's
        ("xavier_normal", {"fan_out": 50, "nonlinearity": "tanh"}, 1.0),  # ignored: xavier takes none
        ("lecun_normal", {"nonlinearity": "relu"}, 1.0),
    ],
)
def test_nonlinearity_applies_only_to_schemes_taking_it(name, kwargs: dict, gain: float) -> None:  # type: ignore[no-untyped-def]
    assert ii.explain(name, 100, **kwargs).gain == pytest.approx(gain)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ii.explain(ii.he_normal(), 100, mode="fan_out"), "cannot add parameters"),
        (lambda: ii.explain("he_normal", 0), "fan_in must be a positive int"),
        (lambda: ii.explain("he_normal", 100, 2.5), "fan_out must be a positive int"),
        (lambda: ii.explain("he_norml", 100), "did you mean 'he_normal'"),
        (lambda: ii.explain("he_normal", 100, nonlinearity="rleu"), "did you mean 'relu'"),
    ],
)
def test_bad_arguments(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "name",
    [
        "zeros",
        "normal",
        "uniform",
        "xavier_normal",
        "he_uniform",
        "lecun_normal",
        "orthogonal",
        "trunc_normal",
        "identity",
        "dirac",
    ],
)
def test_every_scheme_explains_to_json(name: str) -> None:
    e = ii.explain(name, 100, 50)
    data = json.loads(json.dumps(e.to_dict()))
    assert data["scheme"] == repr(ii.get(name)) and data["fan_in"] == 100 and data["source"]
    assert str(e).startswith(repr(ii.get(name)))


def test_dirac_statistics_need_the_kernel() -> None:
    e = ii.explain("dirac", 100, 50)
    assert e.std is None and e.interval_99_7 is None and "kernel shape" in e.formula


@pytest.mark.parametrize(("p", "interval"), [(0.5, (0.0, 1.0)), (0.001, (0.0, 0.0)), (0.999, (1.0, 1.0))])
def test_bernoulli_interval(p: float, interval: tuple[float, float]) -> None:
    assert bernoulli_interval(p) == interval


def test_truncated_normal_moments_without_truncation_are_the_normal_ones() -> None:
    assert truncated_normal_moments(0.3, 2.0, -math.inf, math.inf) == pytest.approx((0.3, 2.0), rel=1e-12)
