"""ScheduleFreeAdamW against schedulefree.AdamWScheduleFree, option sets as data: parameters and
state in train mode and after eval(), train()/eval() mid-run, state dicts both ways, bad
arguments, foreach against the per-tensor path.

Tolerance: none. Both do the same float32 operations in the same order, so parameters, ``z``
and ``exp_avg_sq`` are compared bitwise over 100 steps (the brief asked for 1e-6; bitwise is
stricter and holds), and the group's running scalars (``k``, ``weight_sum``, ``lr_max``,
``scheduled_lr``) exactly.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from torch import nn

from initopt.optim.schedule_free import ScheduleFreeAdamW, schedule_free_scalars

STEPS = 100
SEED = 0
GROUP_SCALARS = ("k", "weight_sum", "lr_max", "scheduled_lr", "train_mode")

CASES: list[tuple[str, dict[str, Any]]] = [
    ("defaults", {}),
    ("weight_decay_warmup", {"lr": 1e-2, "weight_decay": 0.05, "warmup_steps": 20}),
    ("polynomial_average", {"lr": 3e-3, "betas": (0.95, 0.99), "eps": 1e-6, "r": 1.0, "weight_lr_power": 0.0}),
    ("warmup_longer_than_run", {"lr": 1e-2, "warmup_steps": 2 * STEPS, "weight_decay": 0.1}),
]
IDS = [name for name, _ in CASES]
KWARGS = [kwargs for _, kwargs in CASES]


@pytest.fixture
def schedulefree():
    return pytest.importorskip("schedulefree")


def _model() -> nn.Module:
    torch.manual_seed(SEED)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _set_grads(models: list[nn.Module], step: int) -> None:
    """The same random gradients (seeded by ``step``) on every model, fresh tensors each."""
    g = torch.Generator().manual_seed(1000 + step)
    grads = [torch.randn(p.shape, generator=g) for p in models[0].parameters()]
    for model in models:
        for p, grad in zip(model.parameters(), grads, strict=True):
            p.grad = grad.clone()


def _assert_same(a: torch.optim.Optimizer, model_a: nn.Module, b: torch.optim.Optimizer, model_b: nn.Module) -> None:
    for p, q in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(p, q)
        for key in ("z", "exp_avg_sq"):
            assert torch.equal(a.state[p][key], b.state[q][key]), key
    for group_a, group_b in zip(a.param_groups, b.param_groups, strict=True):
        assert {k: group_a[k] for k in GROUP_SCALARS} == {k: group_b[k] for k in GROUP_SCALARS}


def _run(pairs: list[tuple[torch.optim.Optimizer, nn.Module]], steps: range, swap_every: int = 0) -> None:
    models = [model for _, model in pairs]
    for t in steps:
        _set_grads(models, t)
        for opt, _ in pairs:
            opt.step()
        if swap_every and (t + 1) % swap_every == 0:  # evaluate x, then go on training at y
            for opt, _ in pairs:
                opt.eval()
            for opt, _ in pairs:
                opt.train()


@pytest.mark.parametrize("foreach", [None, True, False])
@pytest.mark.parametrize("kwargs", KWARGS, ids=IDS)
def test_matches_schedulefree_in_train_mode_and_after_eval(schedulefree, kwargs: dict, foreach: bool | None) -> None:
    ours_model, their_model = _model(), _model()
    ours = ScheduleFreeAdamW(ours_model.parameters(), foreach=foreach, **kwargs)
    theirs = schedulefree.AdamWScheduleFree(their_model.parameters(), **kwargs)
    ours.train()
    theirs.train()
    _run([(ours, ours_model), (theirs, their_model)], range(STEPS))
    _assert_same(ours, ours_model, theirs, their_model)  # y
    ours.eval()
    theirs.eval()
    _assert_same(ours, ours_model, theirs, their_model)  # x


@pytest.mark.parametrize("kwargs", KWARGS[:2], ids=IDS[:2])
def test_matches_schedulefree_with_eval_and_train_during_the_run(schedulefree, kwargs: dict) -> None:
    ours_model, their_model = _model(), _model()
    ours = ScheduleFreeAdamW(ours_model.parameters(), **kwargs)
    theirs = schedulefree.AdamWScheduleFree(their_model.parameters(), **kwargs)
    ours.train()
    theirs.train()
    _run([(ours, ours_model), (theirs, their_model)], range(STEPS), swap_every=10)
    _assert_same(ours, ours_model, theirs, their_model)


def test_modes_as_the_reference() -> None:
    """Starts in eval mode; step() raises there; eval()/train() before any step move nothing."""
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    opt = ScheduleFreeAdamW(model.parameters())
    assert opt.train_mode is False and not opt.param_groups[0]["train_mode"]
    _set_grads([model], 0)
    with pytest.raises(RuntimeError, match="optimizer.train()"):
        opt.step()
    opt.train()
    opt.eval()
    opt.train()
    assert opt.train_mode is True
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))
    opt.step()
    opt.eval()
    assert opt.train_mode is False


def test_eval_then_train_restores_y() -> None:
    model = _model()
    opt = ScheduleFreeAdamW(model.parameters(), lr=1e-2)
    opt.train()
    _run([(opt, model)], range(10))
    y = [p.detach().clone() for p in model.parameters()]
    opt.eval()
    assert not all(torch.equal(p, q) for p, q in zip(model.parameters(), y, strict=True))
    opt.train()
    for p, q in zip(model.parameters(), y, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)  # a lerp there and back: round-off


def test_a_group_added_in_train_mode_trains() -> None:
    model, extra = _model(), nn.Linear(2, 2)
    opt = ScheduleFreeAdamW(model.parameters())
    opt.train()
    opt.add_param_group({"params": extra.parameters(), "lr": 1e-3})
    assert opt.train_mode is True
    for p in extra.parameters():
        p.grad = torch.ones_like(p)
    opt.step()


def test_grads_left_unchanged() -> None:
    model = _model()
    opt = ScheduleFreeAdamW(model.parameters(), weight_decay=0.1)
    opt.train()
    _set_grads([model], 0)
    grads = [p.grad.clone() for p in model.parameters()]
    opt.step()
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads, strict=True))


@pytest.mark.parametrize("kwargs", KWARGS, ids=IDS)
def test_foreach_equals_the_per_tensor_path(kwargs: dict) -> None:
    pairs = []
    for foreach in (False, True):
        model = _model()
        opt = ScheduleFreeAdamW(model.parameters(), foreach=foreach, **kwargs)
        opt.train()
        pairs.append((opt, model))
    _run(pairs, range(STEPS), swap_every=25)
    _assert_same(*pairs[0], *pairs[1])


def _resume(make_first, make_second, kwargs: dict) -> None:
    """Train with ``make_first``, eval() and save halfway, load into ``make_second`` over the saved
    model, train() and go on: identical to an uninterrupted ScheduleFreeAdamW."""
    model, reference_model = _model(), _model()
    first, reference = make_first(model.parameters(), kwargs), ScheduleFreeAdamW(reference_model.parameters(), **kwargs)
    first.train()
    reference.train()
    _run([(first, model), (reference, reference_model)], range(STEPS // 2))
    first.eval()
    saved_state, saved_model = copy.deepcopy(first.state_dict()), copy.deepcopy(model)
    second = make_second(saved_model.parameters(), kwargs)
    second.load_state_dict(saved_state)
    assert second.param_groups[0]["train_mode"] is False
    second.train()
    _run([(second, saved_model), (reference, reference_model)], range(STEPS // 2, STEPS))
    _assert_same(reference, reference_model, second, saved_model)


@pytest.mark.parametrize("kwargs", KWARGS, ids=IDS)
def test_state_dict_round_trip(kwargs: dict) -> None:
    ours = lambda ps, kw: ScheduleFreeAdamW(ps, **kw)  # noqa: E731
    _resume(ours, ours, kwargs)


@pytest.mark.parametrize("direction", ["initopt -> schedulefree", "schedulefree -> initopt"])
@pytest.mark.parametrize("kwargs", KWARGS[:2], ids=IDS[:2])
def test_state_dict_interchanges_with_schedulefree(schedulefree, kwargs: dict, direction: str) -> None:
    ours = lambda ps, kw: ScheduleFreeAdamW(ps, **kw)  # noqa: E731
    theirs = lambda ps, kw: schedulefree.AdamWScheduleFree(ps, **kw)  # noqa: E731
    if direction.startswith("initopt"):
        _resume(ours, theirs, kwargs)
    else:
        _resume(theirs, ours, kwargs)


def test_state_and_group_keys_as_the_reference(schedulefree) -> None:
    ours_model, their_model = _model(), _model()
    ours = ScheduleFreeAdamW(ours_model.parameters())
    theirs = schedulefree.AdamWScheduleFree(their_model.parameters())
    ours.train()
    theirs.train()
    _run([(ours, ours_model), (theirs, their_model)], range(2))
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert set(ours_sd["param_groups"][0]) == set(theirs_sd["param_groups"][0])
    assert set(ours_sd["state"][0]) == set(theirs_sd["state"][0])


def test_uniform_average_without_weighting() -> None:
    """r = 0, weight_lr_power = 0: c_{t+1} = 1/t, x is the plain average of the z's."""
    lr_max, weight_sum = -1.0, 0.0
    for k in range(5):
        s = schedule_free_scalars(k, lr=0.1, lr_max=lr_max, weight_sum=weight_sum, warmup_steps=0, r=0.0, weight_lr_power=0.0)
        lr_max, weight_sum = s.lr_max, s.weight_sum
        assert s.ckp1 == pytest.approx(1 / (k + 1)) and s.lr == 0.1


def test_warmup_and_lr_weighted_average() -> None:
    """During warm-up gamma_t = gamma t / T and w_t = gamma_t^2: c_2 = (0.2^2) / (0.1^2 + 0.2^2)."""
    s1 = schedule_free_scalars(0, lr=1.0, lr_max=-1.0, weight_sum=0.0, warmup_steps=10, r=0.0, weight_lr_power=2.0)
    s2 = schedule_free_scalars(1, lr=1.0, lr_max=s1.lr_max, weight_sum=s1.weight_sum, warmup_steps=10, r=0.0, weight_lr_power=2.0)
    assert (s1.lr, s1.ckp1) == (pytest.approx(0.1), 1.0)
    assert s2.lr == pytest.approx(0.2) and s2.ckp1 == pytest.approx(0.04 / 0.05)


#: (kwargs, the message: torch.optim's text where torch.optim checks the same, else the rule follows)
INVALID: list[tuple[dict[str, Any], str]] = [
    ({"lr": -1.0}, "Invalid learning rate: -1.0"),
    ({"betas": (1.5, 0.999)}, "Invalid beta parameter at index 0: 1.5"),
    ({"betas": (0.0, 0.999)}, "Invalid beta parameter at index 0: 0.0 (must be > 0: eval() recovers x = (y - (1 - beta1) z) / beta1)"),
    ({"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1: 1.0"),
    ({"betas": (0.9,)}, "Invalid betas value: (0.9,) (must be a pair (beta1, beta2))"),
    ({"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
    ({"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ({"warmup_steps": -1}, "Invalid warmup_steps value: -1"),
    ({"r": -1.0}, "Invalid r value: -1.0"),
    ({"weight_lr_power": -2.0}, "Invalid weight_lr_power value: -2.0"),
    ({"lr": float("nan")}, "Invalid learning rate: nan"),
    ({"lr": -1.0, "eps": -1.0}, "Invalid learning rate: -1.0"),  # torch.optim.Adam's order: lr first
]


@pytest.mark.parametrize(("kwargs", "text"), INVALID, ids=[repr(kwargs)[:40] for kwargs, _ in INVALID])
def test_invalid_arguments(kwargs: dict, text: str) -> None:
    with pytest.raises(ValueError) as info:
        ScheduleFreeAdamW([torch.zeros(3, requires_grad=True)], **kwargs)
    assert str(info.value) == text
    with pytest.raises(ValueError) as info:  # in a param group too
        ScheduleFreeAdamW([{"params": [torch.zeros(3, requires_grad=True)]}, {"params": [torch.zeros(2, requires_grad=True)], **kwargs}])
    assert str(info.value) == text
