"""Conformance of initopt.optim against torch.optim: option sets as data, each test written once.

Every row of ``CASES`` runs through every generic test: parity with torch.optim (each of our
paths against torch's per-tensor reference), foreach against single, fused against torch's
fused, state_dict in both directions mid-training, and under an LR scheduler.

Tolerance: none. On CPU every path does the same float32 operations in the same order as its
torch counterpart, so parameters and state are compared bitwise (``torch.equal``), plus dtype
and device of every state tensor. A reordering of operations would show up as a 1-ulp
mismatch that grows over the 100 steps.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from initopt.optim import SGD, Adam, AdamW

STEPS = 100  # steps of the parity runs
SHORT = 40  # steps of the scheduler and state_dict runs (these switch optimizers at SHORT // 2)
SHAPES = [(5, 3), (7,), (), (4, 4, 2)]  # a matrix, a vector, a 0-dim and a 3-D parameter
SKIPPED = 1  # index of the parameter whose grad is None on some steps
LR0 = 0.01


@dataclass(frozen=True)
class OptimCase:
    """One option set: our class and kwargs, and torch's equivalent."""

    name: str
    torch_cls: type[torch.optim.Optimizer]
    our_cls: type[torch.optim.Optimizer]
    kwargs: dict[str, Any]
    #: torch's kwargs when they differ from ours (e.g. independent decay at a constant lr)
    torch_kwargs: dict[str, Any] | None = None
    #: overrides for a second param group holding the last two parameters
    second_group: dict[str, Any] | None = field(default=None)

    def __str__(self) -> str:
        return self.name

    @property
    def ours_only_keys(self) -> bool:
        """Whether torch's state dict would mean something else (loading it is not parity)."""
        return self.torch_kwargs is not None


def _t(x: float) -> torch.Tensor:
    return torch.tensor(x)


CASES = [
    OptimCase("sgd", torch.optim.SGD, SGD, {"lr": LR0}),
    OptimCase("sgd-momentum", torch.optim.SGD, SGD, {"lr": LR0, "momentum": 0.9}),
    OptimCase("sgd-dampening-wd", torch.optim.SGD, SGD,
              {"lr": LR0, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05}),
    OptimCase("sgd-nesterov-wd", torch.optim.SGD, SGD,
              {"lr": LR0, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    OptimCase("sgd-maximize", torch.optim.SGD, SGD,
              {"lr": LR0, "momentum": 0.9, "weight_decay": 0.05, "maximize": True}),
    OptimCase("sgd-lr-tensor", torch.optim.SGD, SGD, {"lr": _t(LR0), "momentum": 0.9}),
    OptimCase("sgd-groups", torch.optim.SGD, SGD, {"lr": LR0, "momentum": 0.9},
              second_group={"lr": 0.03, "momentum": 0.5, "weight_decay": 0.1, "nesterov": True}),
    OptimCase("adam", torch.optim.Adam, Adam, {"lr": LR0}),
    OptimCase("adam-l2", torch.optim.Adam, Adam, {"lr": LR0, "weight_decay": 0.1}),
    OptimCase("adam-amsgrad", torch.optim.Adam, Adam, {"lr": LR0, "amsgrad": True}),
    OptimCase("adam-maximize-amsgrad-l2", torch.optim.Adam, Adam,
              {"lr": LR0, "maximize": True, "amsgrad": True, "weight_decay": 0.1}),
    OptimCase("adam-lr-tensor", torch.optim.Adam, Adam, {"lr": _t(LR0), "weight_decay": 0.1}),
    OptimCase("adam-betas-tensor", torch.optim.Adam, Adam,
              {"lr": LR0, "betas": (_t(0.8), _t(0.99)), "eps": 1e-6}),
    OptimCase("adam-decoupled", torch.optim.Adam, Adam,
              {"lr": LR0, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    OptimCase("adam-groups", torch.optim.Adam, Adam, {"lr": LR0},
              second_group={"lr": 0.03, "betas": (0.8, 0.9), "weight_decay": 0.1, "amsgrad": True}),
    OptimCase("adamw", torch.optim.AdamW, AdamW, {"lr": LR0}),
    OptimCase("adamw-wd-amsgrad", torch.optim.AdamW, AdamW,
              {"lr": LR0, "weight_decay": 0.1, "amsgrad": True}),
    OptimCase("adamw-maximize", torch.optim.AdamW, AdamW, {"lr": LR0, "maximize": True}),
    OptimCase("adamw-lr-tensor", torch.optim.AdamW, AdamW, {"lr": _t(LR0), "weight_decay": 0.1}),
    OptimCase("adamw-groups", torch.optim.AdamW, AdamW, {"lr": LR0, "weight_decay": 0.05},
              second_group={"lr": 0.03, "betas": (0.85, 0.95), "weight_decay": 0.2, "eps": 1e-6}),
    # At a constant lr, independent decay lambda is torch's decay with lambda / lr0 (same float ops).
    OptimCase("adamw-independent", torch.optim.AdamW, AdamW,
              {"lr": LR0, "weight_decay": 1e-3, "decay": "independent"},
              torch_kwargs={"lr": LR0, "weight_decay": 1e-3 / LR0}),
]

PATHS: dict[str, dict[str, Any]] = {
    "single": {"foreach": False},
    "foreach": {"foreach": True},
    "default": {},
    "fused": {"fused": True},
}


# --------------------------------------------------------------------------------------------
# A random problem and helpers
# --------------------------------------------------------------------------------------------
def make_params(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g).requires_grad_() for s in SHAPES]


def clone_params(params: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    return [p.detach().clone().requires_grad_() for p in params]


def param_spec(params: list[torch.Tensor], case: OptimCase) -> list[Any]:
    if case.second_group is None:
        return params
    return [{"params": params[:2]}, {"params": params[2:], **copy.deepcopy(case.second_group)}]


def build(case: OptimCase, params: list[torch.Tensor], ours: bool, **path: Any) -> torch.optim.Optimizer:
    cls = case.our_cls if ours else case.torch_cls
    kwargs = case.kwargs if ours or case.torch_kwargs is None else case.torch_kwargs
    # each optimizer owns its tensor hyperparameters (schedulers write into them)
    return cls(param_spec(params, case), **copy.deepcopy(kwargs), **path)


@functools.cache
def noise(t: int) -> tuple[torch.Tensor, ...]:
    """Step-seeded gradient noise, drawn once per step and shared by all runs."""
    g = torch.Generator().manual_seed(1000 + t)
    return tuple(torch.randn(shape, generator=g) for shape in SHAPES)


def train(opt: torch.optim.Optimizer, params: list[torch.Tensor], steps: range, sched: Any = None) -> None:
    """Gradients depend on the parameters (sin p) plus step-seeded noise, so a 1-ulp difference
    changes later gradients; parameter SKIPPED gets no gradient on every third step."""
    for t in steps:
        for i, (p, n) in enumerate(zip(params, noise(t), strict=True)):
            p.grad = None if (i == SKIPPED and t % 3 == 1) else torch.sin(p.detach()) + n
        opt.step()
        if sched is not None:
            sched.step()


def assert_same(opt_a: torch.optim.Optimizer, params_a: list, opt_b: torch.optim.Optimizer, params_b: list) -> None:
    """Parameters and every state tensor bitwise equal (and same dtype/device)."""
    for i, (a, b) in enumerate(zip(params_a, params_b, strict=True)):
        assert torch.equal(a, b), f"param {i}: max |diff| {(a - b).abs().max().item():.3g}"
        sa, sb = opt_a.state[a], opt_b.state[b]
        assert sa.keys() == sb.keys(), f"param {i}: state keys {sorted(sa)} vs {sorted(sb)}"
        for key in sa:
            x, y = sa[key], sb[key]
            assert (x.dtype, x.device, x.shape) == (y.dtype, y.device, y.shape), (i, key)
            assert torch.equal(x, y), f"param {i} state {key!r}: max |diff| {(x - y).abs().max().item():.3g}"


CASE_BY_NAME = {case.name: case for case in CASES}


@functools.cache
def trained(name: str, ours: bool, path: str) -> tuple[torch.optim.Optimizer, list[torch.Tensor]]:
    """One STEPS-step run per (case, implementation, path), shared by the tests (read only)."""
    case = CASE_BY_NAME[name]
    params = make_params()
    opt = build(case, params, ours=ours, **PATHS[path])
    train(opt, params, range(STEPS))
    return opt, params


# --------------------------------------------------------------------------------------------
# Generic tests
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["single", "foreach", "default"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case: OptimCase, path: str) -> None:
    """Each of our paths equals torch.optim's per-tensor reference over STEPS steps."""
    assert_same(*trained(case.name, False, "single"), *trained(case.name, True, path))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_foreach_matches_single(case: OptimCase) -> None:
    assert_same(*trained(case.name, True, "single"), *trained(case.name, True, "foreach"))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fused_matches_torch_fused(case: OptimCase) -> None:
    ours, _ = trained(case.name, True, "fused")
    assert_same(*trained(case.name, False, "fused"), *trained(case.name, True, "fused"))
    assert all(s["step"].dtype == torch.float32 for s in ours.state.values() if "step" in s)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch_under_scheduler(case: OptimCase) -> None:
    """An LR scheduler writes group["lr"]; both optimizers must follow it identically."""
    if case.ours_only_keys:
        pytest.skip("the torch equivalent holds for a constant lr only")
    runs = []
    for ours in (False, True):
        params = make_params()
        opt = build(case, params, ours=ours, foreach=False)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=SHORT // 2)
        train(opt, params, range(SHORT), sched)
        runs.append((opt, params))
    assert_same(*runs[0], *runs[1])


@pytest.mark.parametrize("direction", ["torch->ours", "ours->torch", "ours->ours"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_state_dict_mid_training(case: OptimCase, direction: str) -> None:
    """Save after SHORT/2 steps, load into the other implementation, continue: same result as
    running the saving optimizer all the way through."""
    src_ours, dst_ours = direction.split("->")[0] == "ours", direction.split("->")[1] == "ours"
    if case.ours_only_keys and not (src_ours and dst_ours):
        pytest.skip("torch's equivalent uses other hyperparameter values")
    half = range(SHORT // 2)
    rest = range(SHORT // 2, SHORT)
    p_src = make_params()
    src = build(case, p_src, ours=src_ours)
    train(src, p_src, half)
    saved = copy.deepcopy(src.state_dict())

    p_dst = clone_params(p_src)
    dst = build(case, p_dst, ours=dst_ours)
    dst.load_state_dict(saved)
    train(src, p_src, rest)
    train(dst, p_dst, rest)
    assert_same(src, p_src, dst, p_dst)
    if dst_ours and not src_ours and isinstance(dst, Adam):
        # torch's groups lack our keys; __setstate__ filled in what they meant
        assert all(group["decay"] == "coupled" for group in dst.param_groups)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_state_dict_layout_matches_torch(case: OptimCase) -> None:
    """Same state keys, dtypes and devices as torch; group keys a superset of torch's."""
    p_ref, p_ours = make_params(), make_params()
    ref, ours = build(case, p_ref, ours=False), build(case, p_ours, ours=True)
    train(ref, p_ref, range(3))
    train(ours, p_ours, range(3))
    sd_ref, sd_ours = ref.state_dict(), ours.state_dict()
    assert sd_ref["state"].keys() == sd_ours["state"].keys()
    for k, s in sd_ref["state"].items():
        assert s.keys() == sd_ours["state"][k].keys()
        for key, value in s.items():
            assert (value.dtype, value.device) == (sd_ours["state"][k][key].dtype, sd_ours["state"][k][key].device)
    for g_ref, g_ours in zip(sd_ref["param_groups"], sd_ours["param_groups"], strict=True):
        assert set(g_ref) <= set(g_ours)
        assert set(g_ours) - set(g_ref) <= {"decay", "initial_lr", "state_dtype", "kahan_sum"}


# --------------------------------------------------------------------------------------------
# Paths and modes that need a setup of their own
# --------------------------------------------------------------------------------------------
def test_fused_sgd_param_that_starts_late() -> None:
    """A parameter whose first gradient comes after the others' (torch's fused SGD raises)."""
    runs = []
    for path in ({"foreach": False}, {"fused": True}):
        params = make_params()
        opt = SGD(params, lr=LR0, momentum=0.9, **path)
        for t in range(20):
            for i, p in enumerate(params):
                p.grad = None if (i == 0 and t < 5) else torch.cos(p.detach()) + 0.1 * t
            opt.step()
        runs.append((opt, params))
    for (a, b) in zip(runs[0][1], runs[1][1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        torch.testing.assert_close(
            runs[0][0].state[a]["momentum_buffer"], runs[1][0].state[b]["momentum_buffer"],
            rtol=1e-6, atol=1e-7,
        )


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("cls_pair", [(torch.optim.Adam, Adam), (torch.optim.AdamW, AdamW)], ids=["adam", "adamw"])
def test_capturable_matches_torch(monkeypatch: pytest.MonkeyPatch, cls_pair: tuple, foreach: bool) -> None:
    """capturable=True keeps ``step`` on the device; exercised on CPU by allowing CPU for both.

    foreach: torch's op order, bitwise. Single: our pure functions with a tensor step (no host
    sync), which fold the step size differently from torch: within 2 ulp per step (rtol 1e-6).
    """
    import initopt.optim.adam as ours_adam
    import torch.optim.adam as torch_adam

    monkeypatch.setattr(torch_adam, "_get_capturable_supported_devices", lambda supports_xla=True: ["cpu"])
    monkeypatch.setattr(ours_adam, "CAPTURABLE_DEVICES", ("cpu",))
    kwargs = {"lr": LR0, "weight_decay": 0.1, "amsgrad": True, "capturable": True, "foreach": foreach}
    p_ref, p_ours = make_params(), make_params()
    ref, ours = cls_pair[0](p_ref, **kwargs), cls_pair[1](p_ours, **kwargs)
    train(ref, p_ref, range(STEPS))
    train(ours, p_ours, range(STEPS))
    if foreach:
        assert_same(ref, p_ref, ours, p_ours)
    else:
        for a, b in zip(p_ref, p_ours, strict=True):
            torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-6)
            for key in ref.state[a]:
                torch.testing.assert_close(ours.state[b][key], ref.state[a][key], rtol=1e-6, atol=1e-7)


def test_capturable_needs_a_capturable_device() -> None:
    p = torch.zeros(3, requires_grad=True)
    opt = Adam([p], capturable=True)
    p.grad = torch.ones(3)
    with pytest.raises(AssertionError, match="capturable"):
        opt.step()


@pytest.mark.parametrize(
    ("torch_cls", "our_cls", "kwargs"),
    [
        (torch.optim.SGD, SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
        (torch.optim.Adam, Adam, {"lr": 0.1, "weight_decay": 0.1}),
        (torch.optim.AdamW, AdamW, {"lr": 0.1}),
    ],
    ids=["sgd", "adam", "adamw"],
)
def test_differentiable_matches_torch(torch_cls: type, our_cls: type, kwargs: dict) -> None:
    """differentiable=True: the gradient of the final loss w.r.t. the initial weights."""

    def hypergrad(cls: type) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        w0, x = torch.randn(5, generator=g, requires_grad=True), torch.randn(5, generator=g)
        w = w0.clone()
        opt = cls([w], differentiable=True, **kwargs)
        for _ in range(3):
            (w.grad,) = torch.autograd.grad(((w * x).sum() - 1) ** 2, w, create_graph=True)
            opt.step()
        (dw0,) = torch.autograd.grad((w**2).sum(), w0)
        return w.detach(), dw0

    (w_ref, d_ref), (w_ours, d_ours) = hypergrad(torch_cls), hypergrad(our_cls)
    torch.testing.assert_close(w_ours, w_ref, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(d_ours, d_ref, rtol=1e-6, atol=1e-6)


def test_old_checkpoint_with_number_step_loads() -> None:
    """Checkpoints from old torch versions stored ``step`` as a number; it becomes a tensor."""
    params = make_params()
    opt = Adam(params, lr=LR0)
    train(opt, params, range(3))
    sd = copy.deepcopy(opt.state_dict())
    for s in sd["state"].values():
        s["step"] = float(s["step"])
    fresh = Adam(clone_params(params), lr=LR0)
    fresh.load_state_dict(sd)
    for s in fresh.state.values():
        assert torch.is_tensor(s["step"]) and s["step"].dtype == torch.float32
