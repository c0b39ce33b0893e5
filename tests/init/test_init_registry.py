"""get(): names, aliases, dict specs and the errors for what does not exist or is invalid."""

from __future__ import annotations

import pytest

import initopt.init as ii

CANONICAL = [
    "constant", "dirac", "gpt2", "he_normal", "he_uniform", "identity", "lecun_normal", "lecun_uniform",
    "normal", "orthogonal", "trunc_normal", "uniform", "xavier_normal", "xavier_uniform", "zeros",
]  # fmt: skip
REQUIRED = {"constant": {"value": 0.5}}


def test_names_and_aliases() -> None:
    assert ii.names() == sorted(CANONICAL)
    assert ii.aliases() == {
        "gaussian": "normal",
        "glorot_normal": "xavier_normal",
        "glorot_uniform": "xavier_uniform",
        "kaiming_normal": "he_normal",
        "kaiming_uniform": "he_uniform",
    }


@pytest.mark.parametrize("name", CANONICAL)
def test_every_name_builds_its_scheme(name: str) -> None:
    scheme = ii.get(name, **REQUIRED.get(name, {}))
    assert isinstance(scheme, ii.Scheme) and scheme.name == name
    assert scheme == getattr(ii, name)(**REQUIRED.get(name, {}))


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("He_Normal", "he_normal"),
        ("he-normal", "he_normal"),
        ("KAIMING_NORMAL", "he_normal"),
        ("kaiming-uniform", "he_uniform"),
        ("Gaussian", "normal"),
        ("Glorot-Uniform", "xavier_uniform"),
        (" xavier normal ", "xavier_normal"),
        ("glorot_normal", "xavier_normal"),
        ("TRUNC-NORMAL", "trunc_normal"),
    ],
)
def test_names_are_case_insensitive_with_aliases(typed: str, canonical: str) -> None:
    assert ii.get(typed).name == canonical


def test_dict_specs_and_schemes() -> None:
    assert ii.get({"name": "gaussian", "std": 0.02}) == ii.normal(std=0.02)
    assert ii.get({"name": "he_normal"}, mode="fan_out") == ii.he_normal(mode="fan_out")
    assert ii.get({"name": "normal", "std": 0.1}, std=0.2) == ii.normal(std=0.2)  # keywords override
    scheme = ii.xavier_uniform()
    assert ii.get(scheme) is scheme


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ValueError) as error:
        ii.get("he_norml")
    assert str(error.value).startswith(
        "unknown init scheme 'he_norml'; did you mean 'he_normal'? valid: constant, dirac, gaussian,"
    )
    with pytest.raises(ValueError, match="did you mean 'xavier_uniform'"):
        ii.get("Xavier-Unifrom")
    with pytest.raises(ValueError, match=r"unknown init scheme 'fixup'; valid: constant"):
        ii.get("fixup")  # not implemented, so not registered


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        (
            "normal",
            {"sdt": 1.0},
            r"unknown parameter 'sdt' for init scheme 'normal'; did you mean 'std'\? valid: mean, std",
        ),
        ("zeros", {"value": 1.0}, r"unknown parameter 'value' for init scheme 'zeros'; valid: \(none\)"),
        (
            "he_normal",
            {"gain": 2.0},
            r"unknown parameter 'gain' for init scheme 'he_normal'.*valid: a, mode, nonlinearity",
        ),
    ],
)
def test_unknown_parameter_is_named_with_the_accepted_ones(name: str, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ii.get(name, **params)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("normal", {"std": -1.0}, "'normal': std must be >= 0"),
        ("normal", {"std": True}, "std must be a number"),
        ("normal", {"mean": float("nan")}, "mean must be a finite number"),
        ("uniform", {"a": 1.0, "b": 0.0}, "b > a"),
        ("uniform", {"a": 1.0, "b": 1.0}, "b > a"),
        ("he_normal", {"mode": "fan_avg"}, "unknown mode 'fan_avg'"),
        ("he_uniform", {"nonlinearity": "rleu"}, "did you mean 'relu'"),
        ("he_normal", {"a": 0.2}, "a .*only applies to nonlinearity='leaky_relu'"),
        ("xavier_normal", {"gain": -1.0}, "gain must be >= 0"),
        ("orthogonal", {"gain": "2"}, "gain must be a number"),
        ("trunc_normal", {"std": 0.0}, "std must be > 0"),
        ("trunc_normal", {"a": 2.0, "b": 1.0}, "b > a"),
        ("trunc_normal", {"a": 40.0, "b": 41.0}, "holds no mass"),
        ("constant", {"value": "one"}, "value must be a number"),
        ("constant", {}, "needs parameter 'value'"),
    ],
)
def test_invalid_values_name_the_parameter(name: str, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ii.get(name, **params)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ii.get({"std": 1.0}), "needs a 'name' key"),
        (lambda: ii.get(ii.zeros(), value=1.0), "cannot add parameters"),
        (lambda: ii.get(3), "must be a string"),  # type: ignore[arg-type]
    ],
)
def test_malformed_requests(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()
