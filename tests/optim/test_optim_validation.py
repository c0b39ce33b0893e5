"""Invalid hyperparameters raise ValueError with torch.optim's texts (as data).

Where torch.optim checks the argument too, the text is its text (tests/optim/test_optim_messages.py
compares the two directly); initopt's own checks say ``Invalid <name> value: <value> (<rule>)``.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from initopt.optim import SGD, Adam, AdamW

DTYPES = "must be None (the parameter's dtype), torch.float32, torch.bfloat16 or torch.float16"

INVALID: list[tuple[type, dict[str, Any], str]] = [
    # (class, kwargs, the message)
    (SGD, {"lr": -0.1}, "Invalid learning rate: -0.1"),
    (SGD, {"lr": math.nan}, "Invalid learning rate: nan"),  # torch.optim.SGD lets NaN through
    (SGD, {"lr": torch.tensor(-0.1)}, "Invalid learning rate: -0.10000000149011612"),  # f"{t}": t.item()
    (SGD, {"momentum": -0.5}, "Invalid momentum value: -0.5"),
    (SGD, {"weight_decay": -1e-4}, "Invalid weight_decay value: -0.0001"),
    (SGD, {"dampening": torch.tensor([0.1, 0.2])}, "Tensor dampening must be 1-element"),
    (SGD, {"nesterov": True}, "Nesterov momentum requires a momentum and zero dampening"),
    (SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
     "Nesterov momentum requires a momentum and zero dampening"),
    (SGD, {"state_dtype": torch.int8}, f"Invalid state_dtype value: torch.int8 ({DTYPES})"),
    (Adam, {"lr": -1e-3}, "Invalid learning rate: -0.001"),
    (Adam, {"lr": torch.tensor([1e-3, 2e-3])}, "Tensor lr must be 1-element"),
    (Adam, {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
    (Adam, {"betas": (-0.1, 0.999)}, "Invalid beta parameter at index 0: -0.1"),
    (Adam, {"betas": (0.9, 1.5)}, "Invalid beta parameter at index 1: 1.5"),
    (Adam, {"betas": (0.9, 0)}, "betas must be either both floats or both Tensors"),
    (Adam, {"betas": (0.9,)}, "Invalid betas value: (0.9,) (must be a pair (beta1, beta2))"),
    # torch.optim compares first and fails with "Boolean value of Tensor ... is ambiguous"
    (Adam, {"betas": (torch.tensor([0.9, 0.8]), torch.tensor(0.99))}, "Tensor betas[0] must be 1-element"),
    (Adam, {"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
    (Adam, {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    (Adam, {"decay": "independent"},  # needs decoupled decay
     "Invalid decay value: 'independent' (it scales decoupled weight decay; use AdamW or "
     "Adam(decoupled_weight_decay=True))"),
    (Adam, {"state_dtype": torch.float64}, f"Invalid state_dtype value: torch.float64 ({DTYPES})"),
    (AdamW, {"weight_decay": -0.01}, "Invalid weight_decay value: -0.01"),
    (AdamW, {"betas": (torch.tensor(0.9), torch.tensor(1.0))}, "Invalid beta parameter at index 1: 1.0"),
    (AdamW, {"decay": "indep"},
     "Invalid decay value: 'indep' (must be one of ('coupled', 'independent'); did you mean 'independent'?)"),
    (AdamW, {"decay": "none"}, "Invalid decay value: 'none' (must be one of ('coupled', 'independent'))"),
    (AdamW, {"decay": "independent", "lr": 0.0},
     "Invalid initial_lr value: 0.0 (decay='independent' decays by weight_decay * lr / initial_lr, "
     "so initial_lr must be > 0)"),
]  # fmt: skip


def _params() -> list[torch.Tensor]:
    return [torch.zeros(3, requires_grad=True)]


@pytest.mark.parametrize(("cls", "kwargs", "text"), INVALID, ids=lambda x: repr(x)[:40])
def test_invalid_hyperparameter(cls: type, kwargs: dict, text: str) -> None:
    with pytest.raises(ValueError) as info:
        cls(_params(), **kwargs)
    assert str(info.value) == text


@pytest.mark.parametrize(("cls", "kwargs", "text"), INVALID, ids=lambda x: repr(x)[:40])
def test_invalid_hyperparameter_in_a_group(cls: type, kwargs: dict, text: str) -> None:
    """Param groups are checked too (torch.optim checks constructor arguments only)."""
    good = {"params": _params()}
    with pytest.raises(ValueError) as info:
        cls([good, {"params": _params(), **kwargs}])
    assert str(info.value) == text


def test_add_param_group_rejects_and_leaves_groups_unchanged() -> None:
    opt = AdamW(_params(), lr=1e-3)
    with pytest.raises(ValueError, match=r"^Invalid beta parameter at index 1: 1.0$"):
        opt.add_param_group({"params": _params(), "betas": (0.9, 1.0)})
    assert len(opt.param_groups) == 1


def test_torch_runtime_errors_kept() -> None:
    """fused with foreach or differentiable: torch.optim's RuntimeError, unchanged."""
    with pytest.raises(RuntimeError, match=r"^`fused` and `foreach` cannot be `True` together\.$"):
        AdamW(_params(), fused=True, foreach=True)
    with pytest.raises(RuntimeError, match="^`fused` does not support `differentiable`$"):
        SGD(_params(), fused=True, differentiable=True)


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW])
def test_valid_edge_values(cls: type) -> None:
    """Boundaries that are allowed: lr = 0, beta = 0, eps = 0, weight decay = 0."""
    kwargs: dict[str, Any] = {"lr": 0.0, "weight_decay": 0.0}
    if cls is not SGD:
        kwargs |= {"betas": (0.0, 0.0), "eps": 0.0}
    cls(_params(), **kwargs)
