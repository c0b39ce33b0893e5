"""differentiable=True: gradients through several steps w.r.t. the hyperparameters and the initial
weights, against torch.optim and an out-of-place reference (option sets as data) and, for
independent decay, finite differences.

Each run clones leaf weights (so the optimizer updates non-leaf tensors), sets ``p.grad`` by hand
with ``create_graph=True`` each step, takes ``STEPS`` steps with ``lr``, ``betas`` and
``weight_decay`` given as tensors that require grad, and differentiates the final loss.
Tolerance: 1e-6 relative, in float64. torch's differentiable path and the reference write a few
updates in another order than ours (a tensor ``beta2`` through ``lerp_``, the step size folded
into the denominator, ``m`` without ``lerp``); in float64 those differences stay near 1e-15. In
float32 the small d/d beta (1e-4..1e-3, from cancelling terms) are off the float64 values by up
to 1e-3 relative in torch.optim and in initopt alike, so float32 could not test 1e-6.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import initopt.optim

STEPS = 3
F64 = torch.float64
LR0, BETAS, WEIGHT_DECAY, EPS = 0.05, (0.8, 0.95), 0.1, 1e-8
Tensor, Tensors = torch.Tensor, list[torch.Tensor]
Hyper = dict[str, Tensor]
Train = Callable[[Tensors, Tensor, Tensor, Hyper], Tensors]  # (leaves, x, y, hyper) -> final weights

CASES: list[tuple[str, dict[str, Any], bool]] = [
    # (class name, options besides the tensor hyperparameters, whether torch.optim gets through);
    # weight_decay > 0 makes it a tensor. torch.optim's backward fails where it keeps the momentum
    # buffer (SGD without nesterov) or max_exp_avg_sq's input (amsgrad) and updates them in place
    ("SGD", {}, True),
    ("SGD", {"weight_decay": WEIGHT_DECAY}, True),
    ("SGD", {"momentum": 0.9}, False),
    ("SGD", {"momentum": 0.9, "dampening": 0.3}, False),
    ("SGD", {"momentum": 0.9, "nesterov": True}, True),
    ("SGD", {"momentum": 0.9, "weight_decay": WEIGHT_DECAY}, False),
    ("SGD", {"momentum": 0.9, "dampening": 0.3, "weight_decay": WEIGHT_DECAY}, False),
    ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": WEIGHT_DECAY}, True),
    ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": WEIGHT_DECAY, "maximize": True}, True),
    ("Adam", {}, True),
    ("Adam", {"weight_decay": WEIGHT_DECAY}, True),
    ("Adam", {"weight_decay": WEIGHT_DECAY, "maximize": True}, True),
    ("Adam", {"amsgrad": True}, False),
    ("Adam", {"amsgrad": True, "weight_decay": WEIGHT_DECAY}, False),
    ("AdamW", {"weight_decay": WEIGHT_DECAY}, True),
    ("AdamW", {"weight_decay": WEIGHT_DECAY, "maximize": True}, True),
    ("AdamW", {"weight_decay": WEIGHT_DECAY, "amsgrad": True}, False),
]


def _problem() -> tuple[Tensors, Tensor, Tensor]:
    """Leaf weights of a one-layer tanh regression and its data, in float64."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4, 3, generator=g, dtype=F64, requires_grad=True)
    b = torch.randn(3, generator=g, dtype=F64, requires_grad=True)
    return [w, b], torch.randn(6, 4, generator=g, dtype=F64), torch.randn(6, 3, generator=g, dtype=F64)


def _loss(params: Tensors, x: Tensor, y: Tensor) -> Tensor:
    w, b = params
    return (torch.tanh(x @ w + b) - y).pow(2).mean()


def _hyper(name: str, options: dict[str, Any]) -> Hyper:
    """The tensor hyperparameters (requiring grad) of one run."""
    leaf = lambda v: torch.tensor(v, dtype=F64, requires_grad=True)  # noqa: E731
    hyper = {"lr": leaf(LR0)}
    if name != "SGD":
        hyper |= {"beta1": leaf(BETAS[0]), "beta2": leaf(BETAS[1])}
    if options.get("weight_decay", 0) > 0:
        hyper["weight_decay"] = leaf(options["weight_decay"])
    return hyper


def _kwargs(hyper: Hyper, options: dict[str, Any]) -> dict[str, Any]:
    kwargs = {**options, **{k: v for k, v in hyper.items() if not k.startswith("beta")}}
    if "beta1" in hyper:
        kwargs["betas"] = (hyper["beta1"], hyper["beta2"])
    return kwargs


def _train(make: Any, leaves: Tensors, x: Tensor, y: Tensor) -> Tensors:
    """``STEPS`` differentiable steps from clones of ``leaves``; returns the updated weights."""
    params = [p.clone() for p in leaves]
    opt = make(params)
    for _ in range(STEPS):
        grads = torch.autograd.grad(_loss(params, x, y), params, create_graph=True)
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        opt.step()
    return params


def _optimizer(cls: type, options: dict[str, Any]) -> Train:
    def train(leaves: Tensors, x: Tensor, y: Tensor, hyper: Hyper) -> Tensors:
        return _train(lambda ps: cls(ps, differentiable=True, **_kwargs(hyper, options)), leaves, x, y)

    return train


def _sgd_reference(p: Tensor, g: Tensor, state: dict, hyper: Hyper, o: dict[str, Any]) -> Tensor:
    g = g + hyper.get("weight_decay", 0.0) * p
    mu = o.get("momentum", 0.0)
    if mu:  # torch.optim starts the buffer from the first gradient, detached
        b = g.detach() if "b" not in state else mu * state["b"] + (1 - o.get("dampening", 0.0)) * g
        state["b"] = b
        g = g + mu * b if o.get("nesterov") else b
    return p - hyper["lr"] * g


def _adam_reference(p: Tensor, g: Tensor, state: dict, hyper: Hyper, o: dict[str, Any], t: int,
                    decoupled: bool) -> Tensor:  # fmt: skip
    lr, b1, b2, wd = hyper["lr"], hyper["beta1"], hyper["beta2"], hyper.get("weight_decay", 0.0)
    if decoupled:
        p = p * (1 - lr * wd)
    else:
        g = g + wd * p
    m = state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
    v = state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
    if o.get("amsgrad"):
        v = state["vmax"] = torch.maximum(state.get("vmax", torch.zeros_like(v)), v)
    return p - lr / (1 - b1**t) * m / (v.sqrt() / (1 - b2**t).sqrt() + EPS)


def _reference(name: str, options: dict[str, Any]) -> Train:
    """torch.optim's algorithm box written out of place: new tensors each step, nothing in place."""

    def train(leaves: Tensors, x: Tensor, y: Tensor, hyper: Hyper) -> Tensors:
        params, states = list(leaves), [{} for _ in leaves]
        for t in range(1, STEPS + 1):
            grads = torch.autograd.grad(_loss(params, x, y), params, create_graph=True)
            grads = [-g for g in grads] if options.get("maximize") else grads
            params = [
                _sgd_reference(p, g, s, hyper, options) if name == "SGD"
                else _adam_reference(p, g, s, hyper, options, t, decoupled=name == "AdamW")
                for p, g, s in zip(params, grads, states, strict=True)
            ]  # fmt: skip
        return params

    return train


def _hypergradients(train: Train, name: str, options: dict[str, Any]) -> tuple[list, list, list]:
    """(final weights, d loss / d hyperparameters, d loss / d initial weights) of one run."""
    leaves, x, y = _problem()
    hyper = _hyper(name, options)
    params = train(leaves, x, y, hyper)
    grads = torch.autograd.grad(_loss(params, x, y), [*hyper.values(), *leaves])
    return [p.detach() for p in params], list(grads[: len(hyper)]), list(grads[len(hyper) :])


def _assert_same(ours: tuple[list, list, list], ref: tuple[list, list, list], oracle: str) -> None:
    for what, a, b in zip(("weights", "d/d hyperparameters", "d/d initial weights"), ref, ours, strict=True):
        for r, o in zip(a, b, strict=True):
            assert torch.isfinite(o).all()
            torch.testing.assert_close(o, r, rtol=1e-6, atol=1e-12, msg=lambda m: f"{oracle}, {what}: {m}")


@pytest.mark.parametrize(("name", "options", "torch_ok"), CASES, ids=lambda x: str(x))
def test_hypergradients_match_torch_and_reference(name: str, options: dict[str, Any], torch_ok: bool) -> None:
    oracles = {"reference": _reference(name, options)}
    if torch_ok:
        oracles["torch.optim"] = _optimizer(getattr(torch.optim, name), options)
    ours = _hypergradients(_optimizer(getattr(initopt.optim, name), options), name, options)
    for oracle, train in oracles.items():
        _assert_same(ours, _hypergradients(train, name, options), oracle)


def test_independent_decay_matches_torch_with_rescaled_decay() -> None:
    """decay="independent" is AdamW with weight decay lambda / initial_lr (initial_lr a constant)."""
    leaves, x, y = _problem()
    lr, wd = (torch.tensor(v, dtype=F64, requires_grad=True) for v in (LR0, 1e-2))

    def run(make: Any) -> Tensors:
        return list(torch.autograd.grad(_loss(_train(make, leaves, x, y), x, y), [lr, wd]))

    ours = run(lambda ps: initopt.optim.AdamW(ps, lr=lr, weight_decay=wd, differentiable=True, decay="independent"))
    ref = run(lambda ps: torch.optim.AdamW(ps, lr=lr, weight_decay=wd / LR0, differentiable=True))
    for o, r in zip(ours, ref, strict=True):
        torch.testing.assert_close(o, r, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_independent_decay_gradients_are_finite_differences(amsgrad: bool) -> None:
    """AdamW(decay="independent"): autograd through three steps agrees with finite differences."""
    leaves, x, y = _problem()

    def final_loss(lr: Tensor, beta1: Tensor, beta2: Tensor, wd: Tensor) -> Tensor:
        def make(ps: Tensors) -> torch.optim.Optimizer:
            group = {"params": ps, "initial_lr": LR0}  # fixed: finite differences would move it with lr
            return initopt.optim.AdamW([group], lr=lr, betas=(beta1, beta2), weight_decay=wd,
                                       amsgrad=amsgrad, decay="independent", differentiable=True)  # fmt: skip

        return _loss(_train(make, leaves, x, y), x, y)

    inputs = tuple(torch.tensor(v, dtype=F64, requires_grad=True) for v in (LR0, *BETAS, 1e-2))
    assert torch.autograd.gradcheck(final_loss, inputs, eps=1e-6, atol=1e-8, rtol=1e-5)


def test_non_differentiable_step_records_no_graph() -> None:
    """The default path stays in-place under no_grad: nothing to differentiate, weights are leaves."""
    w = torch.randn(3, requires_grad=True)
    opt = initopt.optim.Adam([w], lr=torch.tensor(0.1), weight_decay=0.1, amsgrad=True)
    for _ in range(STEPS):
        w.grad = torch.randn(3)
        opt.step()
    assert w.is_leaf and w.grad_fn is None
