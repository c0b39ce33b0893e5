"""diagnose() gives the model back as it went in: parameters, .grad, modes, hooks, buffers, global RNG."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initopt.doctor import diagnose


def make_model() -> nn.Module:
    """Dropout (draws from the RNG), BatchNorm (updates buffers in training mode), a ReLU in place."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2)
    )


@pytest.fixture
def x():
    return torch.randn(32, 8, generator=torch.Generator().manual_seed(1))


def run(model: nn.Module, x: torch.Tensor):
    return diagnose(model, x, torch.randint(0, 2, (32,), generator=torch.Generator().manual_seed(2)), "cross_entropy")


def test_parameters_are_unchanged(x):
    model = make_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run(model, x)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_grad_is_untouched_when_none_and_when_set(x):
    model = make_model()
    run(model, x)
    assert all(p.grad is None for p in model.parameters())
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.25)
    grads = [p.grad for p in model.parameters()]
    run(model, x)
    for p, g in zip(model.parameters(), grads, strict=True):
        assert p.grad is g and torch.equal(g, torch.full_like(p, 0.25))


@pytest.mark.parametrize("train", [True, False])
def test_every_modules_mode_is_restored(x, train):
    model = make_model()
    model.train()
    model[1].eval()  # a mixed state: BatchNorm frozen, the rest training
    modes = [m.training for m in model.modules()]
    diagnosis = diagnose(model, x, train=train)
    assert [m.training for m in model.modules()] == modes
    assert diagnosis.train_mode is train


def test_hooks_are_unchanged_and_still_work(x):
    model = make_model()
    calls = []
    handle = model[4].register_forward_hook(lambda *_: calls.append("fwd"))
    pre = model[0].register_forward_pre_hook(lambda *_: calls.append("pre"))
    before = [(dict(m._forward_hooks), dict(m._forward_pre_hooks), dict(m._backward_hooks)) for m in model.modules()]
    run(model, x)
    after = [(dict(m._forward_hooks), dict(m._forward_pre_hooks), dict(m._backward_hooks)) for m in model.modules()]
    assert after == before
    assert calls == ["pre", "fwd"]  # the user's hooks ran during the probe's forward pass, once each
    calls.clear()
    model(x)
    assert calls == ["pre", "fwd"]
    handle.remove()
    pre.remove()


def test_hooks_are_removed_and_modes_restored_when_the_forward_fails():
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(5, 2))  # 4 -> 5: fails at the second Linear
    model.eval()
    with pytest.raises(RuntimeError):
        diagnose(model, torch.randn(3, 8))
    assert all(not m._forward_hooks for m in model.modules())
    assert not any(m.training for m in model.modules())


def test_buffers_are_unchanged(x):
    model = make_model()
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    run(model, x)
    for key, value in model.named_buffers():
        assert torch.equal(value, buffers[key]), key


def test_global_rng_state_is_unchanged(x):
    model = make_model()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    diagnosis = run(model, x)
    assert torch.equal(torch.get_rng_state(), state)
    assert diagnosis.layers  # the probe ran (and its dropout drew random numbers inside the fork)


def test_same_seed_same_numbers_and_seed_changes_dropout(x):
    a = diagnose(make_model(), x, seed=5).to_dict()
    b = diagnose(make_model(), x, seed=5).to_dict()
    c = diagnose(make_model(), x, seed=6).to_dict()
    assert a == b and a != c


def test_in_place_relu_keeps_the_layer_statistics_right(x):
    model = make_model()
    diagnosis = diagnose(model, x, train=False)
    bn = diagnosis.layers[1].layer
    assert bn.activation == "ReLU" and bn.act.mean > 0  # after the (in-place) ReLU
    assert diagnosis.layers[0].layer.act.mean == pytest.approx(float(model[0](x).detach().double().mean()), rel=1e-6)


def test_a_buffer_rebound_in_forward_is_put_back():
    class Counter(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 4)
            self.register_buffer("calls", torch.zeros(()))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls = self.calls + 1  # a new tensor, not an in-place update
            return self.lin(x)

    model = Counter()
    original = model.calls
    diagnose(model, torch.randn(3, 4))
    assert model.calls is original and float(model.calls) == 0.0
