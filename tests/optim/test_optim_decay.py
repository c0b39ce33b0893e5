"""decay="independent": p <- p (1 - wd * lr/initial_lr), independent of the base lr.

With zero gradients Adam's step is exactly zero (m = v = 0, 0 / eps = 0), so what is left is
the decay alone and can be compared with a closed form.
"""

from __future__ import annotations

import copy

import pytest
import torch

from initopt.optim import Adam, AdamW

WD = 0.01
STEPS = 100
PATHS = [{"foreach": False}, {"foreach": True}, {"fused": True}]
PATH_IDS = ["single", "foreach", "fused"]


def pure_decay(opt: torch.optim.Optimizer, p: torch.Tensor, steps: int, sched=None) -> None:
    for _ in range(steps):
        p.grad = torch.zeros_like(p)
        opt.step()
        if sched is not None:
            sched.step()


@pytest.mark.parametrize("path", PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("lr", [1e-4, 1e-3, 1e-1])
def test_independent_decay_ignores_base_lr(lr: float, path: dict) -> None:
    p = torch.ones(4, dtype=torch.float64, requires_grad=True)
    opt = AdamW([p], lr=lr, weight_decay=WD, decay="independent", **path)
    pure_decay(opt, p, STEPS)
    expected = torch.full_like(p, (1 - WD) ** STEPS)
    torch.testing.assert_close(p.detach(), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("lr", [1e-3, 1e-1])
def test_coupled_decay_scales_with_lr(lr: float) -> None:
    """The contrast: PyTorch's rule decays by (1 - lr * wd) per step."""
    p = torch.ones(4, dtype=torch.float64, requires_grad=True)
    pure_decay(AdamW([p], lr=lr, weight_decay=WD), p, STEPS)
    torch.testing.assert_close(p.detach(), torch.full_like(p, (1 - lr * WD) ** STEPS), rtol=1e-12, atol=0)


@pytest.mark.parametrize("path", PATHS, ids=PATH_IDS)
def test_independent_decay_follows_the_schedule(path: dict) -> None:
    """Per step the factor is 1 - wd * lr_t / lr_0 = 1 - wd * (schedule factor at t)."""
    p = torch.ones(3, dtype=torch.float64, requires_grad=True)
    opt = AdamW([p], lr=3e-3, weight_decay=WD, decay="independent", **path)
    factor = lambda t: 0.5 ** (t // 10)  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    pure_decay(opt, p, 40, sched)
    expected = 1.0
    for t in range(40):
        expected *= 1 - WD * factor(t)
    torch.testing.assert_close(p.detach(), torch.full_like(p, expected), rtol=1e-12, atol=0)
    assert opt.param_groups[0]["initial_lr"] == 3e-3


def test_scheduler_initial_lr_is_ours() -> None:
    """Schedulers setdefault ``initial_lr``; the value we stored at construction is kept."""
    p = torch.ones(2, requires_grad=True)
    opt = AdamW([p], lr=0.1, decay="independent")
    opt.param_groups[0]["lr"] = 0.05  # e.g. changed by hand before the scheduler exists
    torch.optim.lr_scheduler.StepLR(opt, step_size=5)
    assert opt.param_groups[0]["initial_lr"] == 0.1


def test_independent_equals_coupled_rescaled_at_constant_lr() -> None:
    """weight_decay_independent = lr0 * weight_decay_coupled gives the same run (round-off)."""
    lr0, wd_coupled = 3e-3, 0.1
    runs = []
    for kwargs in ({"weight_decay": wd_coupled}, {"weight_decay": lr0 * wd_coupled, "decay": "independent"}):
        g = torch.Generator().manual_seed(0)
        p = torch.randn(6, 5, generator=g).requires_grad_()
        opt = AdamW([p], lr=lr0, **kwargs)
        for _ in range(STEPS):
            p.grad = torch.sin(p.detach()) + torch.randn(p.shape, generator=g)
            opt.step()
        runs.append(p.detach())
    torch.testing.assert_close(runs[1], runs[0], rtol=1e-6, atol=1e-7)


def test_adam_with_decoupled_decay_is_adamw() -> None:
    """AdamW is Adam(decoupled_weight_decay=True), also for independent decay (bitwise)."""
    runs = []
    for cls, kwargs in ((AdamW, {}), (Adam, {"decoupled_weight_decay": True})):
        g = torch.Generator().manual_seed(0)
        p = torch.randn(5, generator=g).requires_grad_()
        opt = cls([p], lr=1e-2, weight_decay=1e-3, decay="independent", **kwargs)
        for _ in range(20):
            p.grad = torch.randn(p.shape, generator=g)
            opt.step()
        runs.append(p.detach())
    assert torch.equal(runs[0], runs[1])


def test_groups_decay_modes_and_initial_lr_per_group() -> None:
    a = torch.ones(2, dtype=torch.float64, requires_grad=True)
    b = torch.ones(2, dtype=torch.float64, requires_grad=True)
    opt = AdamW(
        [{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.01, "decay": "coupled"}],
        lr=1e-3, weight_decay=WD, decay="independent",
    )  # fmt: skip
    assert opt.param_groups[0]["initial_lr"] == 0.1 and "initial_lr" not in opt.param_groups[1]
    for _ in range(10):
        a.grad, b.grad = torch.zeros_like(a), torch.zeros_like(b)
        opt.step()
    torch.testing.assert_close(a.detach(), torch.full_like(a, (1 - WD) ** 10), rtol=1e-12, atol=0)
    torch.testing.assert_close(b.detach(), torch.full_like(b, (1 - 0.01 * WD) ** 10), rtol=1e-12, atol=0)


def test_state_dict_keeps_decay_and_initial_lr() -> None:
    p = torch.ones(3, dtype=torch.float64, requires_grad=True)
    opt = AdamW([p], lr=0.1, weight_decay=WD, decay="independent")
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    pure_decay(opt, p, 3, sched)
    saved = copy.deepcopy(opt.state_dict())

    q = p.detach().clone().requires_grad_()
    fresh = AdamW([q], lr=1.0, weight_decay=0.5)  # other settings: the state dict decides
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["decay"] == "independent"
    assert fresh.param_groups[0]["initial_lr"] == 0.1 and fresh.param_groups[0]["lr"] == 0.1 * 0.5**3
    pure_decay(opt, p, 1)
    pure_decay(fresh, q, 1)
    assert torch.equal(p, q)
