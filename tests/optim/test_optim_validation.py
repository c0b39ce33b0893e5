"""Invalid hyperparameters raise ValueError naming the parameter and the value (as data)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from initopt.optim import SGD, Adam, AdamW

INVALID: list[tuple[type, dict[str, Any], str]] = [
    # (class, kwargs, text the message must contain)
    (SGD, {"lr": -0.1}, "lr=-0.1"),
    (SGD, {"lr": math.nan}, "lr=nan"),
    (SGD, {"lr": torch.tensor(-0.1)}, "lr=tensor("),
    (SGD, {"momentum": -0.5}, "momentum=-0.5"),
    (SGD, {"weight_decay": -1e-4}, "weight_decay=-0.0001"),
    (SGD, {"nesterov": True}, "nesterov=True"),
    (SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "dampening=0.1"),
    (Adam, {"lr": -1e-3}, "lr=-0.001"),
    (Adam, {"lr": torch.tensor([1e-3, 2e-3])}, "lr"),
    (Adam, {"betas": (1.0, 0.999)}, "betas[0]=1.0"),
    (Adam, {"betas": (-0.1, 0.999)}, "betas[0]=-0.1"),
    (Adam, {"betas": (0.9, 1.5)}, "betas[1]=1.5"),
    (Adam, {"betas": (0.9,)}, "betas=(0.9,)"),
    (Adam, {"eps": -1e-8}, "eps=-1e-08"),
    (Adam, {"weight_decay": -0.1}, "weight_decay=-0.1"),
    (Adam, {"decay": "independent"}, "decay='independent'"),  # needs decoupled decay
    (AdamW, {"weight_decay": -0.01}, "weight_decay=-0.01"),
    (AdamW, {"betas": (0.9, torch.tensor(1.0))}, "betas[1]=tensor(1.0)"),
    (AdamW, {"decay": "indep"}, "did you mean 'independent'"),
    (AdamW, {"decay": "decoupled"}, "decay='decoupled'"),
    (AdamW, {"decay": "independent", "lr": 0.0}, "initial_lr=0.0"),
]


def _params() -> list[torch.Tensor]:
    return [torch.zeros(3, requires_grad=True)]


@pytest.mark.parametrize(("cls", "kwargs", "text"), INVALID, ids=lambda x: repr(x)[:40])
def test_invalid_hyperparameter(cls: type, kwargs: dict, text: str) -> None:
    with pytest.raises(ValueError) as info:
        cls(_params(), **kwargs)
    assert text in str(info.value)


@pytest.mark.parametrize(("cls", "kwargs", "text"), INVALID, ids=lambda x: repr(x)[:40])
def test_invalid_hyperparameter_in_a_group(cls: type, kwargs: dict, text: str) -> None:
    """Param groups are checked too (torch.optim checks constructor arguments only)."""
    good = {"params": _params()}
    with pytest.raises(ValueError) as info:
        cls([good, {"params": _params(), **kwargs}])
    assert text in str(info.value)


def test_add_param_group_rejects_and_leaves_groups_unchanged() -> None:
    opt = AdamW(_params(), lr=1e-3)
    with pytest.raises(ValueError, match="betas"):
        opt.add_param_group({"params": _params(), "betas": (0.9, 1.0)})
    assert len(opt.param_groups) == 1


def test_torch_runtime_errors_kept() -> None:
    """fused with foreach or differentiable: torch.optim's RuntimeError, unchanged."""
    with pytest.raises(RuntimeError, match="fused"):
        AdamW(_params(), fused=True, foreach=True)
    with pytest.raises(RuntimeError, match="fused"):
        SGD(_params(), fused=True, differentiable=True)


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW])
def test_valid_edge_values(cls: type) -> None:
    """Boundaries that are allowed: lr = 0, beta = 0, eps = 0, weight decay = 0."""
    kwargs: dict[str, Any] = {"lr": 0.0, "weight_decay": 0.0}
    if cls is not SGD:
        kwargs |= {"betas": (0.0, 0.0), "eps": 0.0}
    cls(_params(), **kwargs)
