"""The pure update functions with per-configuration hyperparameters.

A stack of K configurations is one (K, n) tensor whose hyperparameters are (K, 1) tensors.
Compared with K separate torch.optim runs: the tensor forms order a few products differently
from torch's scalar forms (the step size is multiplied into m before the division), so
agreement is to round-off, rtol 1e-6 / atol 1e-7 over 100 steps of float32 parameters.
Hyperparameter tensors are float64, as Python floats are in torch.optim.
"""

from __future__ import annotations

import torch

from initopt.optim import (
    adam_moments_,
    adam_update_,
    decoupled_decay_,
    l2_grad,
    nesterov_direction,
    sgd_momentum,
    sgd_update_,
)

K, N, STEPS = 4, 6, 100
RTOL, ATOL = 1e-6, 1e-7


def _grads(p: torch.Tensor, t: int) -> torch.Tensor:
    """Parameter-dependent gradient with step-seeded noise, same for stack and separate runs."""
    g = torch.Generator().manual_seed(100 + t)
    return torch.sin(p) + torch.randn(p.shape, generator=g)


def test_stacked_adamw_with_per_config_hyperparameters_equals_k_torch_runs() -> None:
    lrs = [1e-3, 3e-3, 1e-2, 3e-2]
    beta1s, beta2s, wds = [0.9, 0.8, 0.95, 0.9], [0.999, 0.99, 0.98, 0.9], [0.0, 0.01, 0.1, 0.3]
    # float64: 1 - beta in float32 would lose digits (1 - f32(0.999) is 1.3e-5 off) where torch
    # computes 1 - beta from a Python float
    col = lambda xs: torch.tensor(xs, dtype=torch.float64).unsqueeze(1)  # noqa: E731  (K, 1)
    lr, beta1, beta2, wd = col(lrs), col(beta1s), col(beta2s), col(wds)
    p0 = torch.randn(K, N, generator=torch.Generator().manual_seed(0))

    stacked = p0.clone()
    m, v = torch.zeros_like(stacked), torch.zeros_like(stacked)
    with torch.no_grad():
        for t in range(STEPS):
            grad = _grads(stacked, t)
            decoupled_decay_(stacked, lr, wd)
            adam_moments_(m, v, grad, beta1, beta2)
            adam_update_(stacked, m, v, lr=lr, beta1=beta1, beta2=beta2, eps=1e-8, step=t + 1)

    for k in range(K):
        p = p0[k].clone().requires_grad_()
        opt = torch.optim.AdamW([p], lr=lrs[k], betas=(beta1s[k], beta2s[k]), weight_decay=wds[k])
        for t in range(STEPS):
            # row k of the stacked noise: draw the full (K, N) block and take row k
            p.grad = torch.sin(p.detach()) + (_grads(torch.zeros(K, N), t) - torch.sin(torch.zeros(K, N)))[k]
            opt.step()
        torch.testing.assert_close(stacked[k], p.detach(), rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(m[k], opt.state[p]["exp_avg"], rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(v[k], opt.state[p]["exp_avg_sq"], rtol=RTOL, atol=ATOL)


def test_stacked_adam_amsgrad_lr_only() -> None:
    """The brief's minimal case: lr of shape (K, 1), everything else shared; with AMSGrad."""
    lrs = torch.tensor([[1e-3], [1e-2], [1e-1]], dtype=torch.float64)
    p0 = torch.randn(3, N, generator=torch.Generator().manual_seed(1))
    stacked, m, v, vmax = p0.clone(), *(torch.zeros(3, N) for _ in range(3))
    noise = [torch.randn(3, N, generator=torch.Generator().manual_seed(t)) for t in range(STEPS)]
    with torch.no_grad():
        for t in range(STEPS):
            grad = l2_grad(torch.cos(stacked) + noise[t], stacked, 0.05)
            adam_moments_(m, v, grad, 0.9, 0.999)
            adam_update_(stacked, m, v, lr=lrs, beta1=0.9, beta2=0.999, eps=1e-8, step=t + 1, max_exp_avg_sq=vmax)
    for k in range(3):
        p = p0[k].clone().requires_grad_()
        opt = torch.optim.Adam([p], lr=lrs[k].item(), weight_decay=0.05, amsgrad=True)
        for t in range(STEPS):
            p.grad = torch.cos(p.detach()) + noise[t][k]
            opt.step()
        torch.testing.assert_close(stacked[k], p.detach(), rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(vmax[k], opt.state[p]["max_exp_avg_sq"], rtol=RTOL, atol=ATOL)


def test_stacked_sgd_nesterov_with_per_config_lr_and_momentum() -> None:
    lrs, mus = [1e-3, 1e-2, 5e-2], [0.5, 0.9, 0.99]
    lr = torch.tensor(lrs, dtype=torch.float64).unsqueeze(1)
    mu = torch.tensor(mus, dtype=torch.float64).unsqueeze(1)
    p0 = torch.randn(3, N, generator=torch.Generator().manual_seed(2))
    noise = [torch.randn(3, N, generator=torch.Generator().manual_seed(t)) for t in range(STEPS)]
    stacked, buf = p0.clone(), None
    with torch.no_grad():
        for t in range(STEPS):
            grad = l2_grad(torch.sin(stacked) + noise[t], stacked, 0.01)
            buf = sgd_momentum(buf, grad, mu, 0.0)
            sgd_update_(stacked, nesterov_direction(grad, buf, mu), lr)
    for k in range(3):
        p = p0[k].clone().requires_grad_()
        opt = torch.optim.SGD([p], lr=lrs[k], momentum=mus[k], nesterov=True, weight_decay=0.01)
        for t in range(STEPS):
            p.grad = torch.sin(p.detach()) + noise[t][k]
            opt.step()
        torch.testing.assert_close(stacked[k], p.detach(), rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(buf[k], opt.state[p]["momentum_buffer"], rtol=RTOL, atol=ATOL)
