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


def _model() -> torch.nn.Module:
    """Hidden matrices, a norm, biases and a head: every kind of group."""
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.LayerNorm(8),
                               torch.nn.Linear(8, 3))


def _groups(opt: torch.optim.Optimizer) -> list[tuple[list[int], float, bool | None]]:
    """Each group's parameters (by id), weight decay and ``use_muon``: what tells two groupings apart."""
    return [([id(p) for p in g["params"]], g["weight_decay"], g.get("use_muon")) for g in opt.param_groups]


def _by_hand(name: str, model: torch.nn.Module, weight_decay: float, no_decay: tuple[str, ...]) -> torch.optim.Optimizer:
    if name == "muon":
        return optim.Muon(optim.muon_param_groups(model, no_decay), weight_decay=weight_decay, lr=0.02)
    return optim.get(name, optim.param_groups(model, weight_decay, no_decay), lr=0.02)


@pytest.mark.parametrize("name", optim.names())
@pytest.mark.parametrize("no_decay", [("bias", "norm"), ("bias", "2.weight")])
def test_build_uses_the_conventional_groups(name: str, no_decay: tuple[str, ...]) -> None:
    model = _model()
    built = optim.build(name, model, weight_decay=0.05, no_decay=no_decay, lr=0.02)
    expected = _by_hand(name, model, 0.05, no_decay)
    assert type(built) is type(expected)
    assert _groups(built) == _groups(expected)
    assert all(g["lr"] == 0.02 for g in built.param_groups)


def test_build_muon_sends_hidden_matrices_to_muon_and_the_rest_to_adamw() -> None:
    model = _model()
    opt = optim.build("Muon", model, weight_decay=0.2)
    muon = [p for g in opt.param_groups if g["use_muon"] for p in g["params"]]
    assert [id(p) for p in muon] == [id(model[0].weight), id(model[2].weight)]
    decays = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert decays[id(model[4].weight)] == 0.2 and decays[id(model[4].bias)] == 0.0 and decays[id(model[3].weight)] == 0.0


@pytest.mark.parametrize(("name", "expected"), [("adamw", 1e-2), ("muon", 0.1), ("sgd", 0.0), ("lion", 0.0)])
def test_build_without_weight_decay_takes_the_class_default(name: str, expected: float) -> None:
    opt = optim.build(name, _model())
    assert opt.param_groups[0]["weight_decay"] == expected
    assert opt.param_groups[-1]["weight_decay"] == 0.0


def test_build_unknown_name_is_gets_error() -> None:
    with pytest.raises(ValueError) as built:
        optim.build("adamm", _model())
    with pytest.raises(ValueError) as got:
        optim.get("adamm", [torch.zeros(1, requires_grad=True)])
    assert str(built.value) == str(got.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lr": -1}, "^Invalid learning rate: -1$"),
    ({"weight_decay": -1.0}, "^Invalid weight_decay value: -1.0$"),
])
def test_build_bad_hyperparameter_is_the_class_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        optim.build("adamw", _model(), **kwargs)


def test_build_is_exported() -> None:
    assert "build" in optim.__all__ and optim.build is optim.registry.build
