"""initopt's Triton kernels: against their reference (initopt.optim.lowp), torch.optim and float64.

On a machine with CUDA they run compiled on the GPU; elsewhere on CPU tensors in Triton's
interpreter (``TRITON_INTERPRET=1``, set for this module only), so CI checks the kernels' logic on
every run with small shapes. Shapes include tensors of several blocks and odd sizes (masked tails).
"""

from __future__ import annotations

import contextlib
import copy
import os
import pickle

import pytest
import torch

pytest.importorskip("triton")

from initopt.optim import SGD, Adam, AdamW  # noqa: E402
from initopt.optim import _triton  # noqa: E402
from initopt.optim.paths import fused_implementation  # noqa: E402
from initopt.optim.lowp import adam_lowp_, sgd_lowp_  # noqa: E402

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
SHAPES = [(3, 5), (7,), (2, 3, 4), (4100,)]  # the last spans three 2048-element blocks
ULPS = {"rtol": 1e-5, "atol": 1e-6}  # kernel against its reference: the same operations, a few ulps


@pytest.fixture(autouse=True, scope="module")
def triton_interpreter():
    """Without CUDA, run the kernels in Triton's interpreter (for this module only)."""
    if CUDA:
        yield
        return
    before = os.environ.get(_triton.INTERPRET_ENV)
    os.environ[_triton.INTERPRET_ENV] = "1"
    yield
    if before is None:
        del os.environ[_triton.INTERPRET_ENV]
    else:
        os.environ[_triton.INTERPRET_ENV] = before


def launch():
    return _triton.load()


def tensors(dtype=torch.float32, state_dtype=None, seed=0, shapes=SHAPES):
    g = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=g).to(DEVICE, dtype) for s in shapes]
    sd = state_dtype or dtype
    zeros = lambda: [torch.zeros(s, device=DEVICE, dtype=sd) for s in shapes]  # noqa: E731
    return {"params": params, "m": zeros(), "v": zeros(), "vmax": zeros(),
            "steps": [torch.zeros((), device=DEVICE) for _ in shapes]}  # fmt: skip


def grads_for(step, like, dtype=None):
    g = torch.Generator().manual_seed(1000 + step)
    return [torch.randn(p.shape, generator=g).to(DEVICE, dtype or p.dtype) for p in like]


def step_together(opt, other, params, other_params, steps):
    """``steps`` steps of two optimizers, each step on the same gradients (:func:`grads_for`)."""
    for step in range(steps):
        for p, q, g in zip(params, other_params, grads_for(step, params)):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        other.step()


def clone(state):
    return {k: [t.clone() for t in v] for k, v in state.items()}


ADAM_CASES = [
    dict(decoupled_weight_decay=True, weight_decay=0.1, amsgrad=False, maximize=False),
    dict(decoupled_weight_decay=False, weight_decay=0.05, amsgrad=True, maximize=False),
    dict(decoupled_weight_decay=True, weight_decay=0.0, amsgrad=True, maximize=True),
]


def adam_step(kernel, s, grads, **kw):
    for st in s["steps"]:
        st += 1
    kernel(s["params"], grads, s["m"], s["v"], s["vmax"], s["steps"],
           lr=kw.pop("lr", 1e-2), beta1=0.9, beta2=kw.pop("beta2", 0.999), eps=1e-8, **kw)  # fmt: skip


@pytest.mark.parametrize("case", ADAM_CASES, ids=str)
def test_adam_kernel_is_its_reference(case):
    """The kernel and initopt.optim.lowp do the same float32 operations, up to a few ulps (PyTorch's
    vectorized CPU loops divide by a scalar as a multiplication by its reciprocal; compiled Triton
    uses fast sqrt/div)."""
    a, b = tensors(), tensors()
    for step in range(4):
        grads = grads_for(step, a["params"])
        adam_step(launch().adam_, a, grads, **case)
        adam_step(adam_lowp_, b, grads, **case)
    for key in ("params", "m", "v", "vmax"):
        for x, y in zip(a[key], b[key]):
            torch.testing.assert_close(x, y, **ULPS)


@pytest.mark.parametrize("case", ADAM_CASES, ids=str)
def test_adam_optimizer_on_the_kernels_matches_torch_optim(case):
    """AdamW/Adam(fused=True) go to the kernels here and follow torch.optim within float32 noise."""
    kw = {"weight_decay": case["weight_decay"], "amsgrad": case["amsgrad"], "maximize": case["maximize"]}
    ours_cls, ref_cls = (AdamW, torch.optim.AdamW) if case["decoupled_weight_decay"] else (Adam, torch.optim.Adam)
    p_ours = [p.requires_grad_() for p in tensors()["params"]]
    p_ref = [p.detach().clone().requires_grad_() for p in p_ours]
    ours = ours_cls(p_ours, lr=1e-2, fused=True, **kw)
    ref = ref_cls(p_ref, lr=1e-2, foreach=False, **kw)
    assert fused_implementation(p_ours, low_precision=False) == "triton"
    step_together(ours, ref, p_ours, p_ref, 10)
    for p, q in zip(p_ours, p_ref):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)
    assert ours.state[p_ours[0]]["step"].item() == 10


def test_adam_kernel_against_float64():
    """Relative error of float32 parameters and state after 20 AdamW steps under 1e-6 of a float64
    run of the same algorithm (torch.optim.AdamW in float64)."""
    p32 = [p.requires_grad_() for p in tensors()["params"]]
    p64 = [p.detach().double().requires_grad_() for p in p32]
    ours = AdamW(p32, lr=1e-2, weight_decay=0.1, fused=True)
    ref = torch.optim.AdamW(p64, lr=1e-2, weight_decay=0.1, foreach=False)
    for step in range(20):
        for p, q, g in zip(p32, p64, grads_for(step, p32)):
            p.grad, q.grad = g.clone(), g.double()
        ours.step()
        ref.step()
    for p, q in zip(p32, p64):
        assert ((p.double() - q).norm() / q.norm()).item() < 1e-6
        for key in ("exp_avg", "exp_avg_sq"):
            a, b = ours.state[p][key].double(), ref.state[q][key]
            assert ((a - b).norm() / b.norm()).item() < 1e-6


def test_bfloat16_state_stays_within_its_documented_bound():
    """bfloat16 moments (8-bit mantissa): after 20 steps the parameters stay within 2e-3 relative
    of float32 state (docs/optim.md gives the bound), and the state takes half the bytes."""
    p_bf = [p.requires_grad_() for p in tensors()["params"]]
    p_32 = [p.detach().clone().requires_grad_() for p in p_bf]
    low = AdamW(p_bf, lr=1e-2, fused=True, state_dtype=torch.bfloat16)
    full = AdamW(p_32, lr=1e-2, fused=True)
    step_together(low, full, p_bf, p_32, 20)
    assert low.state[p_bf[0]]["exp_avg"].dtype == torch.bfloat16
    for p, q in zip(p_bf, p_32):
        assert ((p - q).norm() / q.norm()).item() < 2e-3
    # and the kernel is its reference in this mode too
    a, b = tensors(state_dtype=torch.bfloat16), tensors(state_dtype=torch.bfloat16)
    for step in range(3):
        grads = grads_for(step, a["params"])
        adam_step(launch().adam_, a, grads, **ADAM_CASES[1])
        adam_step(adam_lowp_, b, grads, **ADAM_CASES[1])
    for x, y in zip(a["params"] + a["m"], b["params"] + b["m"]):
        torch.testing.assert_close(x, y, **ULPS)


def test_kahan_summation_keeps_small_updates_of_bfloat16_weights():
    """Updates below half a bfloat16 ulp vanish without compensation; with it the bfloat16 weights
    follow the float32 run (Zamirai et al. 2020)."""
    start = torch.full((64,), 1.0, device=DEVICE)
    runs = {}
    for name, dtype, kahan in (("fp32", torch.float32, False), ("plain", torch.bfloat16, False), ("kahan", torch.bfloat16, True)):
        p = start.clone().to(dtype).requires_grad_()
        opt = SGD([p], lr=1e-4, fused=True, kahan_sum=kahan)
        for _ in range(100):
            p.grad = torch.ones_like(p)
            opt.step()
        runs[name] = (p.float() + (opt.state[p]["kahan_comp"].float() if kahan else 0)).detach()
    assert torch.equal(runs["plain"], start)  # 1 - 1e-4 rounds back to 1 in bfloat16, every step
    # the compensation itself is bfloat16 (as in optimi): within 1e-4 of float32 after 100 steps
    torch.testing.assert_close(runs["kahan"], runs["fp32"], rtol=1e-4, atol=0)
    assert (runs["fp32"] - 0.99).abs().max() < 1e-5


def test_kahan_is_on_by_default_for_bfloat16_with_fused_kernels():
    p = torch.randn(10, device=DEVICE).bfloat16().requires_grad_()
    opt = AdamW([p], fused=True)
    p.grad = torch.randn_like(p)
    opt.step()
    assert opt.state[p]["kahan_comp"].dtype == torch.bfloat16
    q = torch.randn(10, device=DEVICE).requires_grad_()
    opt = AdamW([q], fused=True)
    q.grad = torch.randn_like(q)
    opt.step()
    assert "kahan_comp" not in opt.state[q]


SGD_CASES = [
    dict(momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    dict(momentum=0.9, dampening=0.1, weight_decay=1e-2, nesterov=False, maximize=True),
    dict(momentum=0.9, dampening=0.0, weight_decay=1e-2, nesterov=True, maximize=False),
]


@pytest.mark.parametrize("case", SGD_CASES, ids=str)
def test_sgd_kernel_matches_reference_and_torch(case):
    p_ours = [p.requires_grad_() for p in tensors()["params"]]
    p_ref = [p.detach().clone().requires_grad_() for p in p_ours]
    ours = SGD(p_ours, lr=0.05, fused=True, **case)
    ref = torch.optim.SGD(p_ref, lr=0.05, foreach=False, **case)
    low = tensors()["params"]
    bufs = [torch.zeros_like(p) for p in low] if case["momentum"] else None
    hyper = {k: case[k] for k in ("momentum", "dampening", "weight_decay", "nesterov", "maximize")}
    for step in range(6):
        grads = grads_for(step, p_ours)
        for p, q, g in zip(p_ours, p_ref, grads):
            p.grad, q.grad = g.clone(), g.clone()
        ours.step()
        ref.step()
        sgd_lowp_(low, grads, bufs, lr=0.05, first_step=step == 0, **hyper)
    for p, q, r in zip(p_ours, p_ref, low):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(p.detach(), r, **ULPS)


def test_per_configuration_hyperparameters_and_frozen_rows():
    """Stacked (K, n) parameters with one lr / beta / decay per row equal K separate runs; rows
    marked inactive keep parameters and state exactly."""
    k, n = 4, 3000
    lr = torch.tensor([1e-3, 1e-2, 3e-2, 1e-1], dtype=torch.float64, device=DEVICE)
    beta2 = torch.tensor([0.999, 0.99, 0.95, 0.9], dtype=torch.float64, device=DEVICE)
    wd = torch.tensor([0.0, 0.01, 0.1, 0.0], dtype=torch.float64, device=DEVICE)
    stacked = tensors(shapes=[(k, n)])
    rows = [tensors(shapes=[(n,)]) for _ in range(k)]
    for i, r in enumerate(rows):
        r["params"][0].copy_(stacked["params"][0][i])
    active = [True, True, False, True]
    frozen = stacked["params"][0][2].clone()
    for step in range(3):
        grad = grads_for(step, stacked["params"])[0]
        adam_step(launch().adam_, stacked, [grad], lr=lr, beta2=beta2, weight_decay=wd, decoupled_weight_decay=True,
                  amsgrad=False, maximize=False, rows=k, active=active)  # fmt: skip
        for i, r in enumerate(rows):
            adam_step(adam_lowp_, r, [grad[i]], lr=lr[i].item(), beta2=beta2[i].item(), weight_decay=wd[i].item(),
                      decoupled_weight_decay=True, amsgrad=False, maximize=False)  # fmt: skip
    for i in (0, 1, 3):
        torch.testing.assert_close(stacked["params"][0][i], rows[i]["params"][0], **ULPS)  # fmt: skip
        torch.testing.assert_close(stacked["v"][0][i], rows[i]["v"][0], **ULPS)
    assert torch.equal(stacked["params"][0][2], frozen)
    assert torch.equal(stacked["m"][0][2], torch.zeros(n, device=DEVICE))


def test_device_lr_is_read_at_every_step_without_rebuilding():
    """A tensor lr on the device (capturable style): changing it in place changes the next step."""
    p = torch.ones(100, device=DEVICE, requires_grad=True)
    lr = torch.tensor(0.1, device=DEVICE)
    opt = SGD([p], lr=lr, fused=True)
    p.grad = torch.ones_like(p)
    opt.step()
    lr.fill_(0.5)
    opt.step()
    torch.testing.assert_close(p.detach(), torch.full_like(p, 1 - 0.1 - 0.5))


def test_found_inf_skips_the_step_and_grad_scale_unscales():
    p = torch.ones(50, device=DEVICE, requires_grad=True)
    opt = AdamW([p], lr=0.1, fused=True)
    opt.grad_scale = torch.tensor(4.0, device=DEVICE)
    opt.found_inf = torch.tensor(1.0, device=DEVICE)
    p.grad = torch.full_like(p, 8.0)
    opt.step()
    assert torch.equal(p.detach(), torch.ones(50, device=DEVICE))
    assert opt.state[p]["step"].item() == 0
    opt.found_inf = torch.tensor(0.0, device=DEVICE)
    opt.step()
    q = torch.ones(50, device=DEVICE, requires_grad=True)
    ref = torch.optim.AdamW([q], lr=0.1)
    q.grad = torch.full_like(q, 2.0)
    ref.step()
    torch.testing.assert_close(p.detach(), q.detach())


def test_kept_launches_follow_gradients_that_move_and_state_that_is_replaced():
    """The optimizer keeps its checked launches between steps. Gradients made anew at other addresses
    (old ones kept alive, so the addresses cannot repeat), a parameter given new storage, and a loaded
    state dict must each be seen: the steps match torch.optim throughout."""
    shapes = [(64, 32), (32,), (10,), (4100,)]
    g = torch.Generator().manual_seed(5)
    ours = [torch.randn(s, generator=g).to(DEVICE).requires_grad_() for s in shapes]
    ref = [p.detach().clone().requires_grad_() for p in ours]
    opt, ref_opt = AdamW(ours, lr=0.05, weight_decay=0.1, fused=True), torch.optim.AdamW(ref, lr=0.05, weight_decay=0.1)
    kept = []
    for step in range(6):
        grads = grads_for(step, ours)
        kept.append(grads)
        for p, q, gr in zip(ours, ref, grads):
            p.grad, q.grad = gr.clone(), gr.clone()
        if step == 2:  # new storage for a parameter, same values
            with torch.no_grad():
                ours[0].data = ours[0].data.clone()
        if step == 4:  # a state dict loaded: new state tensors, same values
            opt.load_state_dict(copy.deepcopy(opt.state_dict()))
        opt.step()
        ref_opt.step()
        for p, q in zip(ours, ref):
            torch.testing.assert_close(p.detach(), q.detach(), **ULPS)
        assert [opt.state[p]["step"].item() for p in ours] == [step + 1] * len(ours)
    assert len(opt.kernel_plans()) == 1


def test_state_given_new_storage_is_seen_and_a_restrided_parameter_refused():
    """Kept launches are checked by address, not by object: a state tensor that keeps its identity but
    gets new storage (offload and reload code) is followed, and a parameter viewed in place with other
    strides at the same address is refused as on the first step. Gradients are written in place (the
    same addresses every step), so only those changes can invalidate the kept launches."""
    g = torch.Generator().manual_seed(9)
    ours = [torch.randn(4100, generator=g).to(DEVICE).requires_grad_(), torch.randn(16, 16, generator=g).to(DEVICE).requires_grad_()]
    ref = [p.detach().clone().requires_grad_() for p in ours]
    opt, ref_opt = AdamW(ours, lr=0.05, fused=True), torch.optim.AdamW(ref, lr=0.05)
    old = []
    for step in range(4):
        for p, q, gr in zip(ours, ref, grads_for(step, ours)):
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            p.grad.copy_(gr)
            q.grad = gr.clone()
        if step == 2:
            for state in opt.state.values():
                for name in ("exp_avg", "exp_avg_sq", "step"):
                    old.append(state[name].data)  # kept alive: the old addresses cannot be reused
                    state[name].data = state[name].data.clone()
        opt.step()
        ref_opt.step()
        for p, q in zip(ours, ref):
            torch.testing.assert_close(opt.state[p]["exp_avg"], ref_opt.state[q]["exp_avg"], **ULPS)
            torch.testing.assert_close(p.detach(), q.detach(), **ULPS)
    # a parameter viewed in place with other strides (same address, same shape): with bfloat16 state,
    # which only the kernels take, the step is refused as on a first step (float32 state would go to
    # torch's kernel, next test)
    w = torch.randn(16, 16, device=DEVICE, requires_grad=True)
    low = AdamW([w], lr=0.05, fused=True, state_dtype=torch.bfloat16)
    w.grad = torch.ones_like(w)
    low.step()
    with torch.no_grad():
        w.data = w.data.t()
    w.grad = torch.ones_like(w)
    with pytest.raises(ValueError, match="contiguous"):
        low.step()


@pytest.mark.parametrize("cls", [AdamW, SGD])
def test_tensors_the_kernels_cannot_take_as_laid_out_go_to_torch_fused_kernel(cls):
    """A transposed (channels_last-like) parameter and gradient with float32 state: torch's fused
    kernel takes the call, with torch.optim's fused results."""
    g = torch.Generator().manual_seed(4)
    make = lambda: torch.randn(8, 6, generator=g).to(DEVICE).t().detach().requires_grad_()  # noqa: E731
    ours = [make(), torch.randn(5, generator=g).to(DEVICE).requires_grad_()]
    ref = [p.detach().clone().requires_grad_() for p in ours]
    assert not ours[0].is_contiguous() and not ref[0].is_contiguous()
    kw = dict(lr=0.05, momentum=0.9) if cls is SGD else dict(lr=0.05)
    opt = cls(ours, fused=True, **kw)
    ref_opt = getattr(torch.optim, cls.__name__)(ref, fused=True, **kw)
    for step in range(3):
        for p, q, gr in zip(ours, ref, grads_for(step, ours)):
            gr = gr.t().contiguous().t() if gr.dim() == 2 else gr  # the parameter's layout
            p.grad, q.grad = gr.clone(), gr.clone()
        opt.step()
        ref_opt.step()
    for p, q in zip(ours, ref):
        torch.testing.assert_close(p.detach(), q.detach(), rtol=0, atol=0)


def test_a_step_tensor_shared_by_several_parameters_counts_once_per_parameter():
    """The functional API with one step tensor for three parameters counts it three times, as torch's
    per-tensor loop does. (torch's fused path counts with a foreach add, which on CUDA races over the
    aliased tensors: an H100 run gave 3 once and 1 once; so the comparison with it is on the CPU only.)"""
    from torch.optim.adam import adam as torch_adam

    from initopt.optim.adam import adam

    params = [torch.randn(100, device=DEVICE) for _ in range(3)]
    grads = [torch.randn(100, device=DEVICE) for _ in range(3)]
    kw = dict(fused=True, amsgrad=False, beta1=0.9, beta2=0.999, lr=0.1, weight_decay=0.0, eps=1e-8, maximize=False)
    ours, theirs = torch.zeros((), device=DEVICE), torch.zeros((), device=DEVICE)
    adam([p.clone() for p in params], grads, [torch.zeros_like(p) for p in params],
         [torch.zeros_like(p) for p in params], [], [ours] * 3, **kw)
    torch_adam([p.clone() for p in params], grads, [torch.zeros_like(p) for p in params],
               [torch.zeros_like(p) for p in params], [], [theirs] * 3, has_complex=False, **kw)
    assert ours.item() == 3
    if not CUDA:
        assert theirs.item() == 3
    adam([p.clone() for p in params], grads, [torch.zeros_like(p) for p in params],
         [torch.zeros_like(p) for p in params], [], [ours] * 3, found_inf=torch.ones((), device=DEVICE), **kw)
    assert ours.item() == 3  # a step AMP skips does not count


def test_steps_are_counted_per_tensor_by_the_kernel():
    """A parameter without a gradient at some step keeps its own, smaller step count, as in torch.optim."""
    a = torch.ones(20, device=DEVICE, requires_grad=True)
    b = torch.ones(20, device=DEVICE, requires_grad=True)
    opt = Adam([a, b], lr=0.1, fused=True)
    a.grad = torch.ones_like(a)
    opt.step()
    b.grad = torch.ones_like(b)
    opt.step()
    opt.step()
    assert opt.state[a]["step"].item() == 3 and opt.state[b]["step"].item() == 2


@pytest.mark.parametrize(("dtype", "tol"), [(torch.bfloat16, 2e-2), (torch.float16, 3e-3)])
def test_half_precision_parameters(dtype, tol):
    p = torch.randn(300, device=DEVICE).to(dtype).requires_grad_()
    q = p.detach().float().requires_grad_()
    ours = AdamW([p], lr=1e-2, fused=True, kahan_sum=False)
    ref = torch.optim.AdamW([q], lr=1e-2)
    for step in range(5):
        g = grads_for(step, [q])[0]
        p.grad, q.grad = g.to(dtype), g.to(dtype).float()
        ours.step()
        ref.step()
    assert p.dtype == dtype and ours.state[p]["exp_avg"].dtype == dtype
    # a rounding per step at most: five half-ulps of the dtype
    torch.testing.assert_close(p.float(), q.detach(), rtol=tol, atol=tol)


def test_state_dict_round_trip_with_bfloat16_state():
    params = [p.requires_grad_() for p in tensors(shapes=[(10,)])["params"]]
    opt = AdamW(params, fused=True, state_dtype=torch.bfloat16)
    params[0].grad = torch.ones_like(params[0])
    opt.step()
    saved = copy.deepcopy(opt.state_dict())
    other = [params[0].detach().clone().requires_grad_()]
    again = AdamW(other, fused=True, state_dtype=torch.bfloat16)
    again.load_state_dict(saved)
    for opt_, p in ((opt, params[0]), (again, other[0])):
        p.grad = torch.ones_like(p)
        opt_.step()
    assert torch.equal(params[0], other[0])
    assert again.state[other[0]]["exp_avg"].dtype == torch.bfloat16


def test_a_non_contiguous_tensor_is_refused_with_a_clear_message():
    p = torch.randn(8, 8, device=DEVICE).t()
    with pytest.raises(ValueError, match="contiguous"):
        launch().sgd_([p], [torch.ones(8, 8, device=DEVICE)], None, lr=0.1, momentum=0.0, dampening=0.0,
                      weight_decay=0.0, nesterov=False, maximize=False, first_step=False)  # fmt: skip


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_the_whole_step_replays_in_a_cuda_graph():
    """capturable: lr and step live on the device, so a CUDA graph of the optimizer step replays."""
    p = torch.randn(5000, device="cuda", requires_grad=True)
    q = p.detach().clone().requires_grad_()
    lr = torch.tensor(1e-2, device="cuda")
    opt = AdamW([p], lr=lr, fused=True, capturable=True)
    ref = torch.optim.AdamW([q], lr=1e-2)
    p.grad = torch.randn_like(p)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        opt.step()  # warm-up: state and tables
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        opt.step()
    q.grad = p.grad.clone()
    ref.step()
    for _ in range(5):
        graph.replay()
        ref.step()
    torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-5, atol=1e-6)


def test_block_tables_cover_every_element_once_and_promise_alignment_only_when_true():
    from initopt.optim._triton.tables import block_rows, build

    blocks = block_rows(numel=3 * 5000, rows=3, block=2048, active=[True, False, True])
    covered = [i for start, end, _ in blocks for i in range(start, min(start + 2048, end))]
    assert sorted(covered) == list(range(0, 5000)) + list(range(10000, 15000))
    assert set(blocks[:, 2].tolist()) == {0, 2}
    assert all(start // 5000 == row for start, _, row in blocks)  # a block never crosses its row
    x = torch.zeros(64)
    assert build([[x], [x]], block=2048, device=x.device).aligned
    assert not build([[x[1:]], [x[1:]]], block=2048, device=x.device).aligned  # address off by 4 bytes
    y = torch.zeros(4, 20)  # rows of 20 elements: starts at 20, 40, 60 are not multiples of 16
    assert not build([[y], [y]], rows=4, block=2048, device=y.device).aligned


def test_aligned_and_unaligned_tensors_go_to_separate_launches():
    """A 10-element bias beside a large weight: the weight keeps its 128-bit accesses, in a launch of
    its own; every tensor is still covered once."""
    from initopt.optim._triton.tables import build_split

    weight, bias = torch.zeros(64, 32), torch.zeros(10)
    both = build_split([[weight, bias], [weight, bias]], block=2048, device=weight.device)
    assert [t.aligned for t in both] == [True, False]
    assert [t.tensors[:, 0].tolist() for t in both] == [[weight.data_ptr()], [bias.data_ptr()]]
    assert sum(t.programs for t in both) == 2
    alone = build_split([[weight], [weight]], block=2048, device=weight.device)
    assert len(alone) == 1 and alone[0].aligned


def test_a_launch_with_an_odd_sized_tensor_updates_every_tensor():
    """The split launches against torch.optim: AdamW over a (64, 32) weight and a 10-element bias."""
    params = [torch.randn(64, 32, device=DEVICE), torch.randn(10, device=DEVICE)]
    a = [p.clone().requires_grad_(True) for p in params]
    b = [p.clone().requires_grad_(True) for p in params]
    ours, theirs = AdamW(a, lr=1e-2, fused=True), torch.optim.AdamW(b, lr=1e-2, foreach=False)
    for _ in range(3):
        for x, y in zip(a, b):
            x.grad = torch.randn_like(x)
            y.grad = x.grad.clone()
        ours.step()
        theirs.step()
    for x, y in zip(a, b):
        torch.testing.assert_close(x.detach(), y.detach(), **ULPS)


def test_the_default_path_is_the_kernels_on_cuda_only():
    """``fused=None``: initopt's kernels where every parameter is on CUDA (measured fastest there),
    torch's default elsewhere, the CPU under Triton's interpreter included; an explicit choice stays."""
    params = [torch.randn(8, 4, device=DEVICE, requires_grad=True), torch.randn(4, device=DEVICE, requires_grad=True)]
    for cls in (AdamW, Adam, SGD):
        opt = cls(params, lr=0.01)
        assert all(g["fused"] is (True if CUDA else None) for g in opt.param_groups)
        assert getattr(opt, "_step_supports_amp_scaling", False) is CUDA
        assert cls(params, lr=0.01, foreach=True).param_groups[0]["fused"] is None
        assert cls(params, lr=0.01, fused=False).param_groups[0]["fused"] is False
    if CUDA:  # the default on CUDA follows torch.optim's default to float32 round-off
        ref = [p.detach().clone().requires_grad_() for p in params]
        opt, ref_opt = AdamW(params, lr=0.01), torch.optim.AdamW(ref, lr=0.01)
        step_together(opt, ref_opt, params, ref, 5)
        for p, q in zip(params, ref):
            torch.testing.assert_close(p.detach(), q.detach(), **ULPS)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA: the default path is the kernels on CUDA only")
def test_the_fused_default_yields_where_torch_default_would_work():
    """A group added later that the kernels cannot take (float64) keeps torch's default and turns off
    AMP's hand-over; a checkpoint of torch's default path loads (its step counts go to the device); a
    sparse gradient (nn.Embedding(sparse=True)) takes torch's default path for that step."""
    w = torch.randn(8, 4, device="cuda", requires_grad=True)
    opt = AdamW([w], lr=0.01)
    assert opt.param_groups[0]["fused"] is True and opt._step_supports_amp_scaling
    extra = torch.randn(5, device="cuda", dtype=torch.float64, requires_grad=True)
    opt.add_param_group({"params": [extra]})
    assert opt.param_groups[1]["fused"] is None and not opt._step_supports_amp_scaling
    w.grad, extra.grad = torch.ones_like(w), torch.ones_like(extra)
    opt.step()

    ref_w = w.detach().clone().requires_grad_()
    ref = torch.optim.AdamW([ref_w], lr=0.01)
    ref_w.grad = torch.ones_like(ref_w)
    ref.step()
    mine = AdamW([w2 := ref_w.detach().clone().requires_grad_()], lr=0.01)
    mine.load_state_dict(copy.deepcopy(ref.state_dict()))  # as from a file: no state shared with ref
    assert mine.param_groups[0]["fused"] is True and mine.state[w2]["step"].device.type == "cuda"
    for _ in range(2):
        ref_w.grad, w2.grad = torch.ones_like(ref_w), torch.ones_like(w2)
        ref.step()
        mine.step()
    torch.testing.assert_close(w2.detach(), ref_w.detach(), **ULPS)

    emb = torch.nn.Embedding(10, 4, sparse=True).cuda()
    ref_emb = copy.deepcopy(emb)
    sgd, ref_sgd = SGD(emb.parameters(), lr=0.1), torch.optim.SGD(ref_emb.parameters(), lr=0.1)
    idx = torch.tensor([1, 3, 3], device="cuda")
    for module, o in ((emb, sgd), (ref_emb, ref_sgd)):
        module(idx).sum().backward()
        o.step()
    torch.testing.assert_close(emb.weight.detach(), ref_emb.weight.detach())


@contextlib.contextmanager
def parameters_seen_as_cuda():
    """The default-path decision sees CUDA parameters (the kernels then run where the tensors are: in
    Triton's interpreter on the CPU), so its logic is tested on every CI run."""
    torch.Tensor.is_cuda = property(lambda self: True)
    try:
        yield
    finally:
        del torch.Tensor.is_cuda


def test_the_fused_default_logic_on_the_cpu():
    """Sparse gradients under AMP's hand-over (scale given to the optimizer) take torch's default
    path, unscaled here, or skipped on inf; a tensor subclass (DTensor-like) keeps torch's default; an
    empty group does not; copies and pickles keep the default."""
    emb = torch.nn.Embedding(10, 4, sparse=True).to(DEVICE)
    ref_emb = copy.deepcopy(emb)
    with parameters_seen_as_cuda():
        opt = SGD(emb.parameters(), lr=0.1, momentum=0.9)
        empty_too = AdamW([{"params": [torch.zeros(3, device=DEVICE, requires_grad=True)]}, {"params": []}])
    ref = torch.optim.SGD(ref_emb.parameters(), lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["fused"] is True and opt._step_supports_amp_scaling
    assert empty_too.param_groups[0]["fused"] is True and empty_too._step_supports_amp_scaling
    idx = torch.tensor([1, 3, 3], device=DEVICE)
    for found in (0.0, 1.0, 0.0):
        emb.zero_grad()
        ref_emb.zero_grad()
        (emb(idx).sum() * 4.0).backward()  # scaled by 4, as GradScaler scales the loss
        ref_emb(idx).sum().backward()
        opt.grad_scale, opt.found_inf = torch.tensor(4.0, device=DEVICE), torch.tensor(found, device=DEVICE)
        opt.step()
        if not found:
            ref.step()
        torch.testing.assert_close(emb.weight.detach(), ref_emb.weight.detach())

    class Sub(torch.Tensor):
        pass

    sub = torch.zeros(3, device=DEVICE).as_subclass(Sub).requires_grad_()
    with parameters_seen_as_cuda():
        assert AdamW([sub]).param_groups[0]["fused"] is None
        dense = AdamW([torch.zeros(3, device=DEVICE, requires_grad=True)])
    for clone in (copy.deepcopy(dense), pickle.loads(pickle.dumps(dense))):
        assert clone._fused_by_default and clone._step_supports_amp_scaling
