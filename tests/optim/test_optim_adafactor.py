"""initopt.optim.Adafactor against torch.optim.Adafactor."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initopt.optim import Adafactor

SHAPES = ((7,), (6, 4), (3, 5, 2), (4, 2, 3, 3))


def _params(seed: int = 0) -> list[nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [nn.Parameter(torch.randn(shape, generator=g)) for shape in SHAPES]


def _step_both(ours, theirs, a, b, steps, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        for p, q in zip(a, b):
            grad = torch.randn(p.shape, generator=g)
            p.grad, q.grad = grad.clone(), grad.clone()
        ours.step()
        theirs.step()


OPTIONS = [{}, {"weight_decay": 0.1, "lr": 0.05}, {"maximize": True}, {"eps": (1e-6, 1e-2), "d": 2.0, "beta2_decay": -0.5},
           {"lr": torch.tensor(0.02)}]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_adafactor_equals_torch_adafactor_over_100_steps(options):
    a, b = _params(), _params()
    ours, theirs = Adafactor(a, **options), torch.optim.Adafactor(b, **options)
    _step_both(ours, theirs, a, b, steps=100)
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-6)
        for key, value in theirs.state[q].items():
            torch.testing.assert_close(ours.state[p][key], value, atol=1e-6, rtol=1e-6)


def test_state_dicts_load_both_ways():
    a, b = _params(), _params()
    ours, theirs = Adafactor(a, lr=0.03), torch.optim.Adafactor(b, lr=0.03)
    _step_both(ours, theirs, a, b, steps=4)
    ours_again, theirs_again = Adafactor(a), torch.optim.Adafactor(b)
    ours_again.load_state_dict(theirs.state_dict())
    theirs_again.load_state_dict(ours.state_dict())
    _step_both(ours_again, theirs_again, a, b, steps=10, seed=5)
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("kwargs", [{"lr": -1.0}, {"beta2_decay": 0.5}, {"eps": (-1.0, 1e-3)}, {"eps": (None, -1.0)},
                                    {"d": 0.5}, {"weight_decay": -0.1}, {"lr": torch.tensor([0.1, 0.2])}],
                         ids=lambda k: f"{next(iter(k))}={k[next(iter(k))]}")
def test_bad_arguments_raise_torchs_errors(kwargs):
    with pytest.raises(ValueError) as theirs:
        torch.optim.Adafactor(_params(), **kwargs)
    with pytest.raises(ValueError) as ours:
        Adafactor(_params(), **kwargs)
    assert str(ours.value) == str(theirs.value)
