"""Fused kernels: the one place where ``fused=True`` reaches a kernel.

Three implementations, picked per call by :func:`initopt.optim.paths.fused_implementation`:

- ``"triton"``: initopt's multi-tensor Triton kernels (:mod:`initopt.optim._triton`), one launch for
  all tensors of a dtype; on CUDA when Triton is installed, and on CPU tensors under
  ``TRITON_INTERPRET=1``. They also take low-precision state (``state_dtype``), Kahan-compensated
  bfloat16 parameters, per-configuration hyperparameters, and device-resident lr and step.
- ``"reference"``: :mod:`initopt.optim.lowp`, the same arithmetic in PyTorch ops, for low-precision
  state or Kahan summation where the kernels cannot run.
- ``"torch"``: PyTorch's own kernels (``torch._fused_adam_``, ``_fused_adamw_``, ``_fused_sgd_``),
  called exactly as ``torch.optim`` calls them for ``fused=True`` (same grouping by device and
  dtype, step counting, AMP ``grad_scale`` / ``found_inf`` handling), so results match
  ``torch.optim(..., fused=True)`` bitwise: everywhere else, the CPU included.

Decoupled decay independent of the base lr needs no kernel of its own: the caller passes
``weight_decay / initial_lr`` (see :func:`initopt.optim.decay.effective_weight_decay`), and the
kernel's :math:`\\theta(1 - \\gamma\\lambda')` becomes :math:`\\theta(1 - \\lambda\\gamma/\\gamma_0)`.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor

from . import _triton
from .lowp import adam_lowp_, sgd_lowp_
from .paths import IMPLEMENTATIONS, Implementation, fused_implementation

__all__ = ["IMPLEMENTATIONS", "fused_adam_", "fused_sgd_"]

def _count_steps(state_steps: list[Tensor]) -> None:
    """``step += 1`` for every tensor, one foreach call per device (torch counts before the kernel)."""
    by_device: dict[torch.device, list[Tensor]] = {}
    for s in state_steps:
        by_device.setdefault(s.device, []).append(s)
    for steps in by_device.values():
        torch._foreach_add_(steps, 1)


def _uncount_skipped(state_steps: list[Tensor], found_inf: Tensor | None) -> None:
    """A step skipped by AMP (inf/nan found) must not count."""
    if found_inf is None:
        return
    for s in state_steps:
        s.sub_(found_inf.to(s.device, s.dtype))

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
    compensation: list[Tensor] | None = None,
    choice: Implementation | None = None,
    low_precision: bool | None = None,
    plans: dict | None = None,
) -> None:
    """Adam / AdamW with one fused kernel per (device, dtype); see :class:`initopt.optim.Adam`.

    ``compensation``: Kahan buffers, one per parameter (Triton or reference only);
    ``low_precision``: whether state dtype differs or Kahan is on (found out when not given);
    ``plans``: the caller's cache of checked Triton launches (see :func:`initopt.optim._triton.launch.adam_`)."""
    if not params:
        return
    if low_precision is None:
        low_precision = bool(compensation) or any(m.dtype != p.dtype for m, p in zip(exp_avgs, params))
    kind = fused_implementation(params, low_precision, choice)
    hyper = dict(
        lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay, eps=eps, decoupled_weight_decay=decoupled_weight_decay,
        amsgrad=amsgrad, maximize=maximize, compensation=compensation or None, grad_scale=grad_scale, found_inf=found_inf,
    )  # fmt: skip
    if kind == "triton":  # the kernels count the steps themselves, skipped ones not
        launch = _triton.load()
        try:
            launch.adam_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, count_steps=True,
                         plans=plans, **hyper)  # fmt: skip
            return
        except launch.NotContiguous:  # checked before anything is written; torch's kernel takes any layout
            if low_precision:
                raise
            kind = "torch"
    if kind == "reference":
        _count_steps(state_steps)
        adam_lowp_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, **hyper)
        _uncount_skipped(state_steps, found_inf)
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
    state_dtype: torch.dtype | None = None,
    compensation: list[Tensor] | None = None,
    choice: Implementation | None = None,
    plans: dict | None = None,
) -> None:
    """SGD with one fused kernel per (device, dtype); see :class:`initopt.optim.SGD`.

    ``state_dtype``: dtype of new momentum buffers (default: the gradient's); ``compensation``:
    Kahan buffers, one per parameter (Triton or reference only).

    Fills ``momentum_buffer_list`` in place where it holds ``None``. torch's kernel takes one
    ``is_first_step`` flag for all tensors, and ``torch.optim.SGD(fused=True)`` fails when a
    parameter gets its first gradient after the others (``None`` in the buffer list); here such
    parameters go through a second kernel call with ``is_first_step=True``.
    """
    if not params:
        return
    if any(g.is_sparse for g in grads):
        raise RuntimeError("fused SGD does not support sparse gradients")
    new = [i for i, b in enumerate(momentum_buffer_list) if b is None] if momentum != 0 else []
    low_precision = bool(compensation) or (
        state_dtype is not None and any(p.dtype != state_dtype for p in params) and momentum != 0
    ) or any(b is not None and b.dtype != p.dtype for b, p in zip(momentum_buffer_list, params))
    kind = fused_implementation(params, low_precision, choice)
    hyper = dict(
        weight_decay=float(weight_decay), momentum=momentum, lr=lr, dampening=dampening,
        nesterov=nesterov, maximize=maximize, grad_scale=grad_scale, found_inf=found_inf,
    )  # fmt: skip
    sgd_kernel = _fused_sgd if kind == "torch" else _ours_sgd(kind, compensation, plans, low_precision)
    if momentum == 0:
        sgd_kernel(params, grads, [], first_step=False, indices=range(len(params)), **hyper)
        return
    for i in new:  # the kernel writes b_1 = g_1 into them
        momentum_buffer_list[i] = torch.empty_like(grads[i], dtype=state_dtype or grads[i].dtype)
    if len(new) in (0, len(params)):
        sgd_kernel(params, grads, momentum_buffer_list, first_step=bool(new), indices=range(len(params)), **hyper)
        return
    old = sorted(set(range(len(params))) - set(new))
    for idx, first_step in ((old, False), (new, True)):
        sgd_kernel(
            [params[i] for i in idx], [grads[i] for i in idx],
            [momentum_buffer_list[i] for i in idx], first_step=first_step, indices=idx, **hyper,
        )  # fmt: skip


def _ours_sgd(kind: Implementation, compensation: list[Tensor] | None, plans: dict | None, low_precision: bool) -> Any:
    """initopt's SGD kernel (Triton or reference) in the calling form of :func:`_fused_sgd`; a call
    with tensors the Triton kernel cannot take as laid out goes to torch's kernel (float32 state)."""
    launch = _triton.load() if kind == "triton" else None
    kernel = launch.sgd_ if launch else sgd_lowp_
    extra = {"plans": plans} if launch else {}
    # raised before anything is written; torch's kernel takes any layout, but not low-precision state
    to_torch = launch.NotContiguous if launch and not low_precision else ()

    def run(params: list[Tensor], grads: list[Tensor], bufs: list[Tensor | None], *, first_step: bool,
            indices: Any, **hyper: Any) -> None:  # fmt: skip
        comp = [compensation[i] for i in indices] if compensation else None
        try:
            kernel(params, grads, cast(list[Tensor], bufs) if bufs else None, first_step=first_step,
                   compensation=comp, **hyper, **extra)  # fmt: skip
        except to_torch:
            _fused_sgd(params, grads, bufs, first_step=first_step, indices=indices, **hyper)

    return run


def _fused_sgd(
    params: list[Tensor],
    grads: list[Tensor],
    bufs: list[Tensor | None],
    *,
    first_step: bool,
    grad_scale: Tensor | None,
    found_inf: Tensor | None,
    indices: Any = None,
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
