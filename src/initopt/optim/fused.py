"""Fused kernels: the one place where ``fused=True`` reaches a kernel.

Today every device goes to PyTorch's own kernels (``torch._fused_adam_``, ``torch._fused_adamw_``,
``torch._fused_sgd_``; CPU and CUDA since torch 2.4), called exactly as ``torch.optim`` calls them
for ``fused=True`` (same grouping by device and dtype, same step counting, same AMP
``grad_scale`` / ``found_inf`` handling), so results match ``torch.optim(..., fused=True)``
bitwise. Our Triton kernels will take over on CUDA here and nowhere else.

Decoupled decay independent of the base lr needs no kernel of its own: the caller passes
``weight_decay / initial_lr`` (see :func:`initopt.optim.decay.effective_weight_decay`), and the
kernel's :math:`\\theta(1 - \\gamma\\lambda')` becomes :math:`\\theta(1 - \\lambda\\gamma/\\gamma_0)`.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor

__all__ = ["fused_adam_", "fused_sgd_"]

_group_by_device_and_dtype = torch.optim.Optimizer._group_tensors_by_device_and_dtype


def _on(device: torch.device, x: Tensor | None, cache: dict) -> Tensor | None:
    """``x`` moved to ``device`` once per call (AMP scale, found-inf flag, tensor lr)."""
    if x is None:
        return None
    if device not in cache:
        cache[device] = x.to(device, non_blocking=True)
    return cache[device]


def fused_adam_(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    *,
    amsgrad: bool,
    beta1: float | Tensor,
    beta2: float | Tensor,
    lr: float | Tensor,
    weight_decay: float | Tensor,
    eps: float,
    maximize: bool,
    decoupled_weight_decay: bool,
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
) -> None:
    """Adam / AdamW with one fused kernel per (device, dtype); see :class:`initopt.optim.Adam`."""
    if not params:
        return
    beta1, beta2 = float(beta1), float(beta2)
    weight_decay = float(weight_decay)
    kernel = torch._fused_adamw_ if decoupled_weight_decay else torch._fused_adam_
    scales: dict = {}
    infs: dict = {}
    # A CPU tensor lr goes to the kernel as is (tensor_lr overload); a device lr is copied once.
    lrs: dict | None = {lr.device: lr} if isinstance(lr, Tensor) and lr.device.type != "cpu" else None
    groups = _group_by_device_and_dtype(
        [params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps]  # type: ignore[list-item]
    )
    for (device, _), ((d_params, d_grads, d_exp_avgs, d_exp_avg_sqs, d_max, d_steps), _) in groups.items():
        d_lr = _on(device, lr, lrs) if lrs is not None else lr
        d_inf = _on(device, found_inf, infs)
        torch._foreach_add_(d_steps, 1)
        kernel(
            cast(list[Tensor], d_params),
            cast(list[Tensor], d_grads),
            cast(list[Tensor], d_exp_avgs),
            cast(list[Tensor], d_exp_avg_sqs),
            cast(list[Tensor], d_max),
            cast(list[Tensor], d_steps),
            amsgrad=amsgrad,
            lr=d_lr,
            beta1=beta1,
            beta2=beta2,
            weight_decay=weight_decay,
            eps=eps,
            maximize=maximize,
            grad_scale=_on(device, grad_scale, scales),
            found_inf=d_inf,
        )
        if d_inf is not None:
            # a skipped step (inf/nan under AMP) must not count
            torch._foreach_sub_(d_steps, [d_inf] * len(d_steps))


def fused_sgd_(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffer_list: list[Tensor | None],
    *,
    weight_decay: float | Tensor,
    momentum: float,
    lr: float | Tensor,
    dampening: float,
    nesterov: bool,
    maximize: bool,
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
) -> None:
    """SGD with one fused kernel per (device, dtype); see :class:`initopt.optim.SGD`.

    Fills ``momentum_buffer_list`` in place where it holds ``None``. torch's kernel takes one
    ``is_first_step`` flag for all tensors, and ``torch.optim.SGD(fused=True)`` fails when a
    parameter gets its first gradient after the others (``None`` in the buffer list); here such
    parameters go through a second kernel call with ``is_first_step=True``.
    """
    if not params:
        return
    if any(g.is_sparse for g in grads):
        raise RuntimeError("fused SGD does not support sparse gradients")
    hyper = dict(
        weight_decay=float(weight_decay), momentum=momentum, lr=lr, dampening=dampening,
        nesterov=nesterov, maximize=maximize, grad_scale=grad_scale, found_inf=found_inf,
    )  # fmt: skip
    if momentum == 0:
        _fused_sgd(params, grads, [], first_step=False, **hyper)
        return
    new = [i for i, b in enumerate(momentum_buffer_list) if b is None]
    for i in new:  # the kernel writes b_1 = g_1 into them
        momentum_buffer_list[i] = torch.empty_like(grads[i])
    if len(new) in (0, len(params)):
        _fused_sgd(params, grads, momentum_buffer_list, first_step=bool(new), **hyper)
        return
    old = sorted(set(range(len(params))) - set(new))
    for idx, first_step in ((old, False), (new, True)):
        _fused_sgd(
            [params[i] for i in idx], [grads[i] for i in idx],
            [momentum_buffer_list[i] for i in idx], first_step=first_step, **hyper,
        )  # fmt: skip


def _fused_sgd(
    params: list[Tensor],
    grads: list[Tensor],
    bufs: list[Tensor | None],
    *,
    first_step: bool,
    grad_scale: Tensor | None,
    found_inf: Tensor | None,
    **hyper: Any,
) -> None:
    scales: dict = {}
    infs: dict = {}
    groups = _group_by_device_and_dtype(
        [params, grads, bufs if bufs else [None] * len(params)],  # type: ignore[list-item]
        with_indices=False,
    )
    for (device, _), ((d_params, d_grads, d_bufs), _) in groups.items():
        torch._fused_sgd_(
            cast(list[Tensor], d_params),
            cast(list[Tensor], d_grads),
            cast(list[Tensor], d_bufs) if bufs else [],
            is_first_step=first_step,
            grad_scale=_on(device, grad_scale, scales),
            found_inf=_on(device, found_inf, infs),
            **hyper,
        )
