"""Schemes: statistics against the papers' formulas, draws against torch.nn.init, the Scheme API."""

from __future__ import annotations

import json
import math
import pickle

import pytest
import torch
from init_cases import CASES, SHAPES, TORCH_EQUIVALENTS, TRUNC_ORACLE, Case

import initopt.init as ii
from initopt.init.fans import compute_fans

STAT_CASES = [pytest.param(case, shape, id=f"{case.id}-{shape}") for case in CASES for shape in case.shapes]


def _draw(scheme: ii.Scheme, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return scheme(torch.empty(shape, dtype=torch.float64), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("case", "shape_id"), STAT_CASES)
def test_scheme_std_matches_the_paper_formula(case: Case, shape_id: str) -> None:
    shape = SHAPES[shape_id]
    fan_in, fan_out = compute_fans(shape)
    assert case.scheme.std(fan_in, fan_out, shape=shape) == pytest.approx(case.std(fan_in, fan_out, shape), rel=1e-12)
    assert case.scheme.mean(fan_in, fan_out, shape=shape) == pytest.approx(case.mean(fan_in, fan_out, shape), rel=1e-12)


@pytest.mark.parametrize(("case", "shape_id"), STAT_CASES)
def test_drawn_weights_have_the_theoretical_mean_and_std(case: Case, shape_id: str) -> None:
    shape = SHAPES[shape_id]
    fan_in, fan_out = compute_fans(shape)
    weights = _draw(case.scheme, shape)
    n = weights.numel()
    mean, std = case.mean(fan_in, fan_out, shape), case.std(fan_in, fan_out, shape)
    # 6 standard errors: the sample mean's is std/sqrt(n), the sample std's about std/sqrt(2n) for
    # a normal (less for uniform and truncated). Seeded, so the test is deterministic.
    assert float(weights.mean()) == pytest.approx(mean, abs=6 * std / math.sqrt(n) + 1e-12)
    assert float(weights.std(correction=0)) == pytest.approx(std, rel=6 / math.sqrt(2 * n), abs=1e-12)
    if case.support is not None:
        low, high = case.support(fan_in, fan_out)
        assert float(weights.min()) >= low and float(weights.max()) <= high
        if high > low:  # a uniform fills its interval: the extremes come within 1% of the bounds
            assert float(weights.min()) < low + 0.01 * (high - low) and float(weights.max()) > high - 0.01 * (
                high - low
            )


@pytest.mark.parametrize(("params", "oracle"), TRUNC_ORACLE.items(), ids=[str(k) for k in TRUNC_ORACLE])
def test_trunc_normal_std_is_the_exact_truncated_std(params: tuple[float, ...], oracle: tuple[float, ...]) -> None:
    mean, std, a, b = params
    scheme = ii.trunc_normal(mean=mean, std=std, a=a, b=b)
    assert scheme.mean(1) == pytest.approx(oracle[0], rel=1e-9, abs=1e-12)
    assert scheme.std(1) == pytest.approx(oracle[1], rel=1e-9)
    assert scheme.std(1) < std
    weights = _draw(scheme, (400, 250))
    assert float(weights.min()) >= a and float(weights.max()) <= b
    assert float(weights.std(correction=0)) == pytest.approx(oracle[1], rel=6 / math.sqrt(2 * weights.numel()))


@pytest.mark.parametrize("shape", [(30, 50), (8, 4, 3, 3)], ids=["2d", "conv"])
@pytest.mark.parametrize(("case_id", "scheme", "torch_fill"), TORCH_EQUIVALENTS, ids=[t[0] for t in TORCH_EQUIVALENTS])
def test_same_generator_gives_torch_nn_init_draws(case_id, scheme, torch_fill, shape) -> None:  # type: ignore[no-untyped-def]
    ours = scheme(torch.empty(shape), generator=torch.Generator().manual_seed(0))
    theirs = torch_fill(torch.empty(shape), torch.Generator().manual_seed(0))
    assert torch.equal(ours, theirs)


def test_dirac_equals_torch_dirac() -> None:
    assert torch.equal(ii.dirac()(torch.empty(8, 4, 3)), torch.nn.init.dirac_(torch.empty(8, 4, 3)))


def test_leaky_relu_default_slope_differs_from_kaiming_default() -> None:
    # Documented difference: calculate_gain's slope 0.01 vs kaiming_normal_'s a=0.
    assert ii.he_normal(nonlinearity="leaky_relu").std(100) == pytest.approx(math.sqrt(2 / (1 + 0.01**2) / 100))
    assert ii.he_normal(nonlinearity="leaky_relu").std(100) != ii.he_normal().std(100)


def test_explicit_fans_override_the_shape_fans() -> None:
    bias = ii.he_uniform()(torch.empty(100_000), fan_in=100, generator=torch.Generator().manual_seed(0))
    bound = math.sqrt(6 / 100)
    assert float(bias.abs().max()) <= bound and float(bias.abs().max()) > 0.99 * bound
    expected = torch.empty(100_000).uniform_(-bound, bound, generator=torch.Generator().manual_seed(0))
    assert torch.equal(bias, expected)
    weight = ii.he_normal()(torch.empty(400, 500), fan_in=7, generator=torch.Generator().manual_seed(0))
    assert float(weight.std()) == pytest.approx(math.sqrt(2 / 7), rel=0.01)
    # only fan_out given: fan_in still comes from the shape
    xavier = ii.xavier_normal()(torch.empty(400, 500), fan_out=1500, generator=torch.Generator().manual_seed(0))
    assert float(xavier.std()) == pytest.approx(math.sqrt(2 / (500 + 1500)), rel=0.01)


@pytest.mark.parametrize("fan", [0, -3, 2.5, True])
def test_bad_explicit_fan_is_rejected(fan: object) -> None:
    with pytest.raises(ValueError, match="fan_in"):
        ii.he_normal()(torch.empty(3, 3), fan_in=fan)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scheme", "shape"),
    [(ii.orthogonal(), (10,)), (ii.identity(), (10,)), (ii.identity(), (2, 2, 2, 2, 2, 2)), (ii.dirac(), (30, 50))],
)
def test_shape_a_scheme_cannot_fill_is_named(scheme: ii.Scheme, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=f"shape {re_escape(shape)}"):
        scheme(torch.empty(shape))


def re_escape(shape: tuple[int, ...]) -> str:
    import re

    return re.escape(str(shape))


def test_xavier_std_without_fan_out_names_fan_out() -> None:
    with pytest.raises(ValueError, match="fan_out"):
        ii.xavier_normal().std(100)
    with pytest.raises(ValueError, match="fan_out"):
        ii.he_normal(mode="fan_out").std(100)


def test_he_normal_std_for_fan_in_100() -> None:
    # Corrections: Var = 2 / fan_in (not 2 / (fan_in - 1)), so std = 0.1414, far outside 0.01.
    assert ii.he_normal().std(100) == pytest.approx(math.sqrt(0.02), rel=1e-15)
    assert ii.he_normal().std(100) != pytest.approx(math.sqrt(2 / 99), rel=1e-6)


def test_fill_is_in_place_no_grad_and_returns_the_tensor() -> None:
    param = torch.nn.Parameter(torch.empty(20, 10))
    out = ii.he_normal()(param, generator=torch.Generator().manual_seed(0))
    assert out is param and param.grad_fn is None and param.requires_grad


def test_zero_element_tensor_is_a_no_op() -> None:
    empty = torch.empty(0, 5)
    assert ii.he_normal()(empty) is empty


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "scheme", [ii.orthogonal(), ii.he_normal(), ii.trunc_normal(std=0.02, a=-0.04, b=0.04)], ids=repr
)
def test_half_precision(dtype: torch.dtype, scheme: ii.Scheme) -> None:
    weights = scheme(torch.empty(64, 32, dtype=dtype), generator=torch.Generator().manual_seed(0))
    assert weights.dtype == dtype and torch.isfinite(weights).all() and float(weights.float().std()) > 0


def test_global_rng_is_used_without_generator() -> None:
    torch.manual_seed(3)
    first = ii.he_normal()(torch.empty(5, 5))
    torch.manual_seed(3)
    assert torch.equal(first, ii.he_normal()(torch.empty(5, 5)))


def test_a_generator_on_another_device_draws_there_and_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    # CPU-only stand-in for the CUDA test below: a "meta" weight with a CPU generator must be drawn
    # on the CPU (then copied), so that one seed gives the same weights on every device.
    filled_on: list[torch.device] = []
    original = type(ii.he_normal())._fill

    def spy(self, tensor, *args):  # type: ignore[no-untyped-def]
        filled_on.append(tensor.device)
        if tensor.device.type != "meta":  # drawing on meta loads torch's meta kernels: seconds
            original(self, tensor, *args)

    monkeypatch.setattr(type(ii.he_normal()), "_fill", spy)
    ii.he_normal()(torch.empty(4, 4, device="meta"), generator=torch.Generator().manual_seed(0))
    ii.he_normal()(torch.empty(4, 4, device="meta"))  # no generator: drawn where the tensor is
    assert filled_on == [torch.device("cpu"), torch.device("meta")]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("scheme", [ii.he_normal(), ii.orthogonal(), ii.trunc_normal()], ids=repr)
def test_cpu_generator_gives_the_same_weights_on_cuda(scheme: ii.Scheme) -> None:
    cpu = scheme(torch.empty(64, 32), generator=torch.Generator().manual_seed(0))
    cuda = scheme(torch.empty(64, 32, device="cuda"), generator=torch.Generator().manual_seed(0))
    assert torch.equal(cpu, cuda.cpu())


# -- the Scheme object -----------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_spec_is_json_and_round_trips_through_get(case: Case) -> None:
    spec = case.scheme.spec()
    assert json.loads(json.dumps(spec)) == spec
    assert spec["name"] == case.scheme.name and {k: v for k, v in spec.items() if k != "name"} == case.scheme.params
    assert ii.get(spec) == case.scheme and hash(ii.get(spec)) == hash(case.scheme)
    assert pickle.loads(pickle.dumps(case.scheme)) == case.scheme


@pytest.mark.parametrize(
    ("scheme", "spec", "text"),
    [
        (ii.gaussian(std=0.01), {"name": "normal", "mean": 0.0, "std": 0.01}, "normal(mean=0.0, std=0.01)"),
        (ii.normal(std=1), {"name": "normal", "mean": 0.0, "std": 1.0}, "normal(mean=0.0, std=1.0)"),
        (
            ii.kaiming_normal(),
            {"name": "he_normal", "mode": "fan_in", "nonlinearity": "relu"},
            "he_normal(mode='fan_in', nonlinearity='relu')",
        ),
        (
            ii.he_uniform(nonlinearity="leaky_relu"),
            {"name": "he_uniform", "mode": "fan_in", "nonlinearity": "leaky_relu", "a": 0.01},
            "he_uniform(mode='fan_in', nonlinearity='leaky_relu', a=0.01)",
        ),
        (
            ii.he_normal(a=0),
            {"name": "he_normal", "mode": "fan_in", "nonlinearity": "relu"},
            "he_normal(mode='fan_in', nonlinearity='relu')",
        ),
        (ii.glorot_uniform(), {"name": "xavier_uniform", "gain": 1.0}, "xavier_uniform(gain=1.0)"),
        (ii.zeros(), {"name": "zeros"}, "zeros()"),
        (ii.trunc_normal(std=0.02), {"name": "trunc_normal", "mean": 0.0, "std": 0.02, "a": -2.0, "b": 2.0}, None),
    ],
)
def test_spec_is_canonical_with_defaults_and_aliases_resolved(scheme: ii.Scheme, spec: dict, text: str | None) -> None:
    assert scheme.spec() == spec
    if text is not None:
        assert repr(scheme) == text


def test_equal_schemes_are_equal_and_hash_alike() -> None:
    assert ii.normal(std=1) == ii.normal() == ii.get("gaussian") == ii.get({"name": "normal", "std": 1.0})
    assert len({ii.normal(), ii.gaussian(), ii.normal(std=2.0)}) == 2
    assert ii.zeros() != ii.constant(0.0)  # different names, though they fill the same values


def test_scheme_is_frozen_and_params_is_a_copy() -> None:
    scheme = ii.normal(std=0.5)
    with pytest.raises(AttributeError):
        scheme.name = "uniform"  # type: ignore[misc]
    scheme.params["std"] = 3.0
    assert scheme.params == {"mean": 0.0, "std": 0.5}
