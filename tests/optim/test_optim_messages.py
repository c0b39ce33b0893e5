"""Invalid arguments raise torch.optim's exception type with torch.optim's text (as data).

Each row is built with ``torch.optim``'s class and with initopt's; both must fail the same way
(type and ``str``), including which check fails first when several arguments are wrong. initopt
checks every param group with the same texts; rows torch.optim checks are run as a later group too.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

import initopt.optim

INVALID: list[tuple[str, dict[str, Any]]] = [
    # (class name in both torch.optim and initopt.optim, constructor arguments)
    ("SGD", {"lr": -1.0}),
    ("SGD", {"lr": torch.tensor(-0.1)}),
    ("SGD", {"lr": torch.tensor([0.1, 0.2])}),
    ("SGD", {"lr": -0.1, "momentum": -1.0, "weight_decay": -1.0}),
    ("SGD", {"momentum": -0.5}),
    ("SGD", {"momentum": -0.5, "weight_decay": -1.0}),
    ("SGD", {"weight_decay": -1e-4}),
    ("SGD", {"weight_decay": torch.tensor(-1e-4, requires_grad=True)}),
    ("SGD", {"nesterov": True}),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
    ("SGD", {"nesterov": True, "weight_decay": -1.0}),
    ("SGD", {"fused": True, "differentiable": True}),
    ("SGD", {"fused": True, "foreach": True}),
    ("SGD", {"fused": True, "foreach": True, "differentiable": True}),
    *[(name, row) for name in ("Adam", "AdamW") for row in [
        {"lr": -1e-3},
        {"lr": math.nan},
        {"lr": torch.tensor(-1e-3, requires_grad=True)},
        {"lr": torch.tensor([1e-3, 2e-3])},
        {"lr": torch.tensor([-1e-3])},
        {"lr": -1.0, "eps": -1.0},
        {"eps": -1e-8},
        {"eps": -1e-8, "betas": (1.0, 1.0)},
        {"betas": (1.0, 0.999)},
        {"betas": (-0.1, 0.999)},
        {"betas": (0.9, 1.5)},
        {"betas": (0.9, 1)},
        {"betas": (0.9, torch.tensor(1.0))},
        {"betas": (0.9, torch.tensor(0.999))},
        {"betas": (0, 0.999)},
        {"betas": [0.9, torch.tensor([0.999])]},
        {"betas": (torch.tensor([1.5]), torch.tensor([0.9]))},
        {"betas": (0.9, 1.5), "weight_decay": -1.0},
        {"weight_decay": -0.1},
        {"weight_decay": -0.1, "betas": (0, 0.999)},
        {"amsgrad": True, "betas": (0.9, 1.0)},
        {"fused": True, "differentiable": True},
        {"fused": True, "foreach": True},
    ]],
]  # fmt: skip


def _params() -> list[torch.Tensor]:
    return [torch.zeros(3, requires_grad=True)]


def _failure(make: Any) -> tuple[type, str]:
    try:
        make()
    except Exception as exc:  # noqa: BLE001  (the type is what is compared)
        return type(exc), str(exc)
    raise AssertionError("no exception raised")


def _id(row: Any) -> str:
    return repr(row)[:60]


@pytest.mark.parametrize(("name", "kwargs"), INVALID, ids=_id)
def test_same_exception_and_text_as_torch(name: str, kwargs: dict[str, Any]) -> None:
    expected = _failure(lambda: getattr(torch.optim, name)(_params(), **kwargs))
    got = _failure(lambda: getattr(initopt.optim, name)(_params(), **kwargs))
    assert got == expected


@pytest.mark.parametrize(("name", "kwargs"), [r for r in INVALID if "fused" not in r[1]], ids=_id)
def test_a_later_group_gets_torchs_text_for_the_constructor(name: str, kwargs: dict[str, Any]) -> None:
    """torch.optim checks constructor arguments only; initopt checks each group, in the same words."""
    expected = _failure(lambda: getattr(torch.optim, name)(_params(), **kwargs))
    opt = getattr(initopt.optim, name)(_params())
    got = _failure(lambda: opt.add_param_group({"params": _params(), **kwargs}))
    assert got == expected
    assert len(opt.param_groups) == 1
