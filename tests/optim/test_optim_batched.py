"""The batched optimizer of study bundles against torch.optim run configuration by configuration."""

import importlib.util

import pytest
import torch

from initopt.optim.batched import BatchedOptimizer

CUDA = torch.cuda.is_available()
PATH_CASES = ["fast", "reference", pytest.param("triton", marks=pytest.mark.skipif(
    importlib.util.find_spec("triton") is None, reason="needs triton"))]  # fmt: skip


@pytest.fixture
def on_path(monkeypatch):
    """The device for a path's tensors; the Triton path runs in Triton's interpreter without CUDA."""

    def device(path: str) -> str:
        if path == "triton" and not CUDA:
            monkeypatch.setenv("TRITON_INTERPRET", "1")
        return "cuda" if path == "triton" and CUDA else "cpu"

    return device

SHAPES = [(6, 5), (6,), (1, 6), (1,)]

HYPERS = [  # sgd segment first, then adam/adamw; equal hyperparameters adjacent, as the planner sorts them
    {"name": "sgd", "lr": 0.05, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    {"name": "sgd", "lr": 0.05, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    {"name": "sgd", "lr": 0.01, "momentum": 0.9, "dampening": 0.0, "weight_decay": 1e-3, "nesterov": False},
    {"name": "sgd", "lr": 0.1, "momentum": 0.5, "dampening": 0.1, "weight_decay": 0.0, "nesterov": False},
    {"name": "adam", "lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False},
    {"name": "adam", "lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 1e-2, "amsgrad": False},
    {"name": "adamw", "lr": 3e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1, "amsgrad": False},
    {"name": "adamw", "lr": 3e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1, "amsgrad": False, "decay": "independent"},
]


def torch_optimizer(h, params):
    if h["name"] == "sgd":
        return torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"], weight_decay=h["weight_decay"])
    if h["name"] == "adam":
        return torch.optim.Adam(params, lr=h["lr"], betas=h["betas"], eps=h["eps"], weight_decay=h["weight_decay"])
    wd = h["weight_decay"] / h["lr"] if h.get("decay") == "independent" else h["weight_decay"]  # constant lr
    return torch.optim.AdamW(params, lr=h["lr"], betas=h["betas"], eps=h["eps"], weight_decay=wd)


def step_alike(optimizer, singles, references, grads):
    """One step of the batched optimizer and of each configuration's torch.optim, from the same gradients."""
    optimizer.step(grads)
    for i, (ps, opt) in enumerate(zip(singles, references)):
        for p, gr in zip(ps, grads):
            p.grad = gr[i].clone()
        opt.step()


@pytest.mark.parametrize("path", PATH_CASES)
@pytest.mark.parametrize("transposed_grads", [False, True])
def test_each_configuration_steps_as_torch_optim_would(path, transposed_grads, on_path):
    k = len(HYPERS)
    g = torch.Generator().manual_seed(0)
    device = on_path(path)
    stacked = [torch.randn(k, *s, generator=g).to(device) for s in SHAPES]
    singles = [[p[i].clone().requires_grad_() for p in stacked] for i in range(k)]
    references = [torch_optimizer(h, ps) for h, ps in zip(HYPERS, singles)]
    optimizer = BatchedOptimizer(stacked, HYPERS, path=path)
    for _ in range(30):
        grads = [torch.randn(k, *s, generator=g).to(device) for s in SHAPES]
        if transposed_grads:  # same values, other memory layout (as vmap's gradients can be)
            grads = [gr.transpose(1, 2).contiguous().transpose(1, 2) if gr.dim() == 3 else gr for gr in grads]
            grads[0] = grads[0].transpose(1, 2).contiguous().transpose(1, 2)
        step_alike(optimizer, singles, references, grads)
    # fast and reference do torch's operations; the kernel its own float32 ones (a few ulps over 30 steps)
    tol = {"rtol": 1e-5, "atol": 1e-6} if path == "triton" else {"rtol": 1e-6, "atol": 1e-7}
    for i, ps in enumerate(singles):
        for p, s in zip(ps, stacked):
            torch.testing.assert_close(s[i], p.detach(), **tol)


@pytest.mark.parametrize("path", PATH_CASES)
def test_frozen_configurations_keep_their_parameters(path, on_path):
    k = len(HYPERS)
    params = [torch.randn(k, *s).to(on_path(path)) for s in SHAPES]
    optimizer = BatchedOptimizer(params, HYPERS, path=path)
    optimizer.step([torch.randn_like(p) for p in params])
    frozen = torch.zeros(k, dtype=torch.bool, device=params[0].device)
    frozen[[2, 5]] = True
    optimizer.freeze(frozen)
    before = [p.clone() for p in params]
    for _ in range(3):
        optimizer.step([torch.where(frozen.view(-1, *[1] * (p.dim() - 1)), float("nan"), torch.randn_like(p)) for p in params])
    for p, b in zip(params, before):
        assert torch.equal(p[frozen], b[frozen])
        assert not torch.equal(p[~frozen], b[~frozen]) and torch.isfinite(p[~frozen]).all()


def test_families_must_be_contiguous_and_flags_equal():
    params = [torch.zeros(3, 2)]
    sgd, adam = HYPERS[0], HYPERS[4]
    with pytest.raises(ValueError, match="contiguous"):
        BatchedOptimizer(params, [sgd, adam, sgd])
    with pytest.raises(ValueError, match="nesterov"):
        BatchedOptimizer(params, [sgd, dict(HYPERS[2], nesterov=True), sgd])


@pytest.mark.parametrize("path", PATH_CASES)
def test_parameters_without_decay_step_as_torch_optims_undecayed_group(path, on_path):
    """``decay=[True, False, True, False]``: the second and fourth tensors (a bias, a norm) are stepped
    as torch.optim's second param group with weight decay 0, the others with each configuration's."""
    k = len(HYPERS)
    g = torch.Generator().manual_seed(1)
    device = on_path(path)
    decay = [True, False, True, False]
    stacked = [torch.randn(k, *s, generator=g).to(device) for s in SHAPES]
    singles = [[p[i].clone().requires_grad_() for p in stacked] for i in range(k)]
    references = []
    for h, ps in zip(HYPERS, singles):
        opt = torch_optimizer(h, [p for p, d in zip(ps, decay) if d])
        opt.add_param_group({"params": [p for p, d in zip(ps, decay) if not d], "weight_decay": 0.0})
        references.append(opt)
    optimizer = BatchedOptimizer(stacked, HYPERS, path=path, decay=decay)
    for _ in range(6):  # the decay of each group shows from the first step; Triton's interpreter is slow
        step_alike(optimizer, singles, references, [torch.randn(k, *s, generator=g).to(device) for s in SHAPES])
    tol = {"rtol": 1e-5, "atol": 1e-6} if path == "triton" else {"rtol": 1e-6, "atol": 1e-7}
    for j, p in enumerate(stacked):
        for i in range(k):
            torch.testing.assert_close(p[i].cpu(), singles[i][j].detach().cpu(), **tol, msg=f"tensor {j}, config {i}")
    state = optimizer.state_dict()
    optimizer.load_state_dict(state)  # a checkpoint of both groups goes back in
    with pytest.raises(ValueError, match="one flag per parameter"):
        BatchedOptimizer(stacked, HYPERS, decay=[True])


SCHEDULED = [  # one schedule per configuration; the last AdamW decays independently of the lr (its decay follows the schedule)
    dict(HYPERS[0], schedule="step"),
    dict(HYPERS[2], schedule="wsd-1sqrt", warmup=0.2),
    dict(HYPERS[3]),
    dict(HYPERS[5], schedule="warmup-cosine", warmup=0.3),
    dict(HYPERS[6], schedule="wsd", warmup=0.1),
    dict(HYPERS[7], schedule="warmup-cosine"),
]


@pytest.mark.parametrize("path", PATH_CASES)
def test_each_configuration_follows_its_schedule_as_torch_optim_with_a_lambdalr(path, on_path):
    from initopt import optim
    from initopt.optim.schedules import schedule_of, scheduler

    device, steps = on_path(path), 12
    torch.manual_seed(0)
    stacked = [torch.randn(len(SCHEDULED), *shape, device=device) for shape in SHAPES]
    singles = [[p[i].clone().requires_grad_() for p in stacked] for i in range(len(SCHEDULED))]
    references, schedulers = [], []
    for h, ps in zip(SCHEDULED, singles):
        independent = h.get("decay") == "independent"  # initopt's AdamW: decay lr-independent, following the schedule
        opt = optim.AdamW(ps, lr=h["lr"], betas=h["betas"], eps=h["eps"], weight_decay=h["weight_decay"],
                          decay="independent") if independent else torch_optimizer(h, ps)
        references.append(opt)
        schedulers.append(None if schedule_of(h) is None else scheduler(opt, schedule_of(h), steps))
    optimizer = BatchedOptimizer(stacked, SCHEDULED, path=path, total_steps=steps)
    for _ in range(steps):
        grads = [torch.randn_like(p) for p in stacked]
        step_alike(optimizer, singles, references, grads)
        for lr_schedule in schedulers:
            if lr_schedule is not None:
                lr_schedule.step()
    tol = {"rtol": 1e-5, "atol": 1e-6} if path == "triton" else {"rtol": 1e-6, "atol": 1e-7}
    for i, ps in enumerate(singles):
        for p, single in zip(stacked, ps):
            torch.testing.assert_close(p[i], single.detach(), **tol)


def test_a_schedule_needs_the_total_steps():
    with pytest.raises(ValueError, match="total_steps"):
        BatchedOptimizer([torch.zeros(2, 3)], [dict(HYPERS[6], schedule="wsd"), dict(HYPERS[6])])
