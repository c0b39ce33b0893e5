r"""The readable reference of the Triton kernels, and the path for low-precision state without them.

Same arithmetic as :mod:`initopt.optim._triton.kernels`, one tensor at a time in PyTorch ops:
float32 math whatever the storage dtype, bias corrections :math:`1-\beta^t` in float64, state
stored in its own dtype (``state_dtype``, e.g. bfloat16: half the bytes of float32 state), and
optional compensated (Kahan) summation for bfloat16/float16 parameters:

.. math::
    x = \theta + c \;(\text{the parameter's true value}),\quad
    x' = \theta' + c,\quad \theta \leftarrow \mathrm{round}(x'),\quad c \leftarrow x' - \theta

so updates smaller than half a bfloat16 ulp of the weight accumulate in :math:`c` instead of being
rounded away (Kahan 1965; used for bfloat16 training by Zamirai et al. 2020, "Revisiting BFloat16
Training"). Steps must already be counted (``step`` holds :math:`t`).

Hyperparameters: numbers, 0-dim tensors, or ``(rows,)`` columns for ``(rows, ...)`` parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["adam_lowp_", "sgd_lowp_", "uses_lowp"]


def uses_lowp(params: Sequence[Tensor], state_dtype: torch.dtype | None, kahan: bool) -> bool:
    """Whether an update needs this path (or the kernels) rather than torch.optim's arithmetic."""
    return kahan or (state_dtype is not None and any(p.dtype != state_dtype for p in params))


def _column(value: float | Tensor, rows: int, like: Tensor) -> Tensor:
    """A hyperparameter as float64, shaped to broadcast against ``like`` viewed as ``(rows, -1)``."""
    t = torch.as_tensor(value, dtype=torch.float64, device=like.device)
    return t.reshape(-1, 1) if t.numel() > 1 else t.reshape(())


def _f32(x: Tensor) -> Tensor:
    return x.to(torch.float32)


def _write(dst: Tensor, value: Tensor, mask: Tensor | None) -> None:
    """Store ``value`` (float32, ``(rows, n)``) into ``dst`` in its dtype; rows where ``mask`` is
    False keep what they held."""
    value = value.to(dst.dtype)
    if mask is not None:
        value = torch.where(mask, value, dst.reshape(value.shape))
    dst.copy_(value.view_as(dst))


def _store_param(param: Tensor, compensation: Tensor | None, value: Tensor, mask: Tensor | None) -> None:
    """The kernels' ``_store_param``: round to the parameter's dtype, keeping the error (Kahan)."""
    if compensation is None:
        _write(param, value, mask)
        return
    exact = value + _f32(compensation).reshape(value.shape)
    stored = exact.to(param.dtype)
    _write(compensation, exact - _f32(stored), mask)
    _write(param, _f32(stored), mask)


def _param_and_grad(p: Tensor, g: Tensor, shape: tuple[int, int], grad_scale: Tensor | None, maximize: bool,
                    l2: Tensor) -> tuple[Tensor, Tensor]:
    """The kernels' ``_param_and_grad``: float32 parameter, and the gradient unscaled (AMP), negated
    (``maximize``), plus ``l2 * param``."""
    param = _f32(p).reshape(shape)
    grad = _f32(g).reshape(shape)
    if grad_scale is not None:
        grad = grad / _f32(grad_scale)
    if maximize:
        grad = -grad
    return param, grad + _f32(l2) * param


def _mask(active: Sequence[bool] | None, device: torch.device) -> Tensor | None:
    return None if active is None else torch.tensor(list(active), device=device).reshape(-1, 1)


@torch.no_grad()
def adam_lowp_(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    exp_avgs: Sequence[Tensor],
    exp_avg_sqs: Sequence[Tensor],
    max_exp_avg_sqs: Sequence[Tensor] | None,
    state_steps: Sequence[Tensor],
    *,
    lr: float | Tensor,
    beta1: float | Tensor,
    beta2: float | Tensor,
    weight_decay: float | Tensor,
    eps: float | Tensor,
    decoupled_weight_decay: bool,
    amsgrad: bool,
    maximize: bool,
    compensation: Sequence[Tensor] | None = None,
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
    rows: int = 1,
    active: Sequence[bool] | None = None,
    l2_weight_decay: float | Tensor | None = None,
) -> None:
    """Adam/AdamW as the Triton kernel computes it (see :func:`initopt.optim._triton.launch.adam_`)."""
    if found_inf is not None and bool(found_inf.item()):
        return
    if l2_weight_decay is None:
        decoupled, l2 = (weight_decay, 0.0) if decoupled_weight_decay else (0.0, weight_decay)
    else:
        decoupled, l2 = weight_decay, l2_weight_decay
    for i, p in enumerate(params):
        shape = (rows, -1)
        col = lambda v: _column(v, rows, p)  # noqa: E731
        mask = _mask(active, p.device)
        step = int(state_steps[i].item())
        lr_, b1, b2 = col(lr), col(beta1), col(beta2)
        step_size = _f32(lr_ / (1 - b1**step))
        bias_correction2_sqrt = _f32(torch.sqrt(1 - b2**step))
        param, grad = _param_and_grad(p, grads[i], shape, grad_scale, maximize, col(l2))
        param = param * _f32(1 - lr_ * col(decoupled))
        m = _f32(exp_avgs[i]).reshape(shape)
        m = m + _f32(1 - b1) * (grad - m)
        v = _f32(b2) * _f32(exp_avg_sqs[i]).reshape(shape) + _f32(1 - b2) * grad * grad
        _write(exp_avgs[i], m, mask)
        _write(exp_avg_sqs[i], v, mask)
        if amsgrad:
            assert max_exp_avg_sqs is not None
            v = torch.maximum(_f32(max_exp_avg_sqs[i]).reshape(shape), v)
            _write(max_exp_avg_sqs[i], v, mask)
        denom = torch.sqrt(v) / bias_correction2_sqrt + _f32(col(eps))
        param = param - step_size * (m / denom)
        _store_param(p, None if compensation is None else compensation[i], param, mask)


@torch.no_grad()
def sgd_lowp_(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    momentum_buffers: Sequence[Tensor] | None,
    *,
    lr: float | Tensor,
    momentum: float | Tensor,
    dampening: float | Tensor,
    weight_decay: float | Tensor,
    nesterov: bool,
    maximize: bool,
    first_step: bool,
    compensation: Sequence[Tensor] | None = None,
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
    rows: int = 1,
    active: Sequence[bool] | None = None,
) -> None:
    """SGD as the Triton kernel computes it (see :func:`initopt.optim._triton.launch.sgd_`)."""
    if found_inf is not None and bool(found_inf.item()):
        return
    for i, p in enumerate(params):
        shape = (rows, -1)
        col = lambda v: _f32(_column(v, rows, p))  # noqa: E731
        mask = _mask(active, p.device)
        param, grad = _param_and_grad(p, grads[i], shape, grad_scale, maximize, col(weight_decay))
        direction = grad
        if momentum_buffers is not None:
            b = momentum_buffers[i]
            buf = grad if first_step else col(momentum) * _f32(b).reshape(shape) + (1 - col(dampening)) * grad
            _write(b, buf, mask)
            direction = grad + col(momentum) * buf if nesterov else buf
        _store_param(p, None if compensation is None else compensation[i], param - col(lr) * direction, mask)
