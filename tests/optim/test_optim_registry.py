"""initopt.optim.get / names: optimizers by name."""

from __future__ import annotations

import pytest
import torch

import initopt.optim as optim


def test_names() -> None:
    assert optim.names() == ["adafactor", "adam", "adamw", "lion", "muon", "schedule_free_adamw", "sgd"]
    assert type(optim.get("Schedule-Free-AdamW", [torch.nn.Parameter(torch.zeros(2))])) is optim.ScheduleFreeAdamW


@pytest.mark.parametrize(("name", "cls"), [("sgd", optim.SGD), ("Adam", optim.Adam), ("ADAMW", optim.AdamW)])
def test_get_is_case_insensitive_and_passes_hyperparameters(name: str, cls: type) -> None:
    p = torch.zeros(2, requires_grad=True)
    opt = optim.get(name, [p], lr=0.5, weight_decay=0.1)
    assert type(opt) is cls
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["weight_decay"] == 0.1


def test_get_unknown_name_suggests_closest() -> None:
    with pytest.raises(ValueError) as info:
        optim.get("adamm", [torch.zeros(1, requires_grad=True)])
    message = str(info.value)
    assert "'adamm'" in message and str(optim.names()) in message
    assert "did you mean 'adam" in message


def test_get_bad_hyperparameter_is_the_class_error() -> None:
    with pytest.raises(ValueError, match="^Invalid learning rate: -1$"):
        optim.get("sgd", [torch.zeros(1, requires_grad=True)], lr=-1)
