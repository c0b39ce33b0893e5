r"""Triton kernels for Adam/AdamW and SGD: one launch updates every tensor of a list.

Multi-tensor layout (see :mod:`initopt.optim._triton.tables`): a *tensor table* holds, per tensor,
the addresses of the parameter, gradient, state buffers, Kahan compensation and step counter; a
*block table* holds, per program, ``(tensor, start, end, row)``: the program updates elements
``start : min(start + BLOCK, end)`` of that tensor, which all belong to configuration ``row`` (for a
study bundle, row ``k`` of a ``(K, ...)`` parameter; ``0`` otherwise). Hyperparameters are read
from device memory at ``ptr + row * stride`` (stride 0: one value for all rows), so they may be
per-configuration columns, and a tensor ``lr`` or ``step`` that a CUDA graph replays needs no host
synchronization.

Arithmetic is float32 whatever the storage dtype (float32, bfloat16 or float16 parameters;
float32, bfloat16 or float16 state); the bias corrections :math:`1-\beta^t` are computed per
program in float64 by binary exponentiation, so they are exact to ~1e-15 even at step 1 where
:math:`1-\beta_2^t = 10^{-3}` would lose four digits in float32.
"""

from __future__ import annotations

import triton
import triton.language as tl

#: columns of the tensor table
PARAM, GRAD, STATE1, STATE2, STATE3, COMP, STEP = range(7)
TENSOR_COLUMNS = 8
#: columns of the block table
TENSOR, START, END, ROW = range(4)
BLOCK_COLUMNS = 4


@triton.jit
def _pow(base, exponent):
    """``base ** exponent`` for a non-negative integer ``exponent`` (float64 scalar)."""
    result = base * 0.0 + 1.0
    e = exponent
    while e > 0:
        result = tl.where((e % 2) == 1, result * base, result)
        base = base * base
        e = e // 2
    return result


@triton.jit
def _to(x, DTYPE: tl.constexpr):
    """float32 ``x`` stored as ``DTYPE``, rounded to nearest even. bfloat16 is rounded here by its
    bits (Triton's CPU interpreter truncates, the GPU rounds: this way both give the same bits)."""
    if DTYPE == tl.bfloat16:
        bits = x.to(tl.uint32, bitcast=True)
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        rounded = tl.where(x != x, 0x7FC0, rounded)  # NaN stays NaN
        return rounded.to(tl.uint16).to(tl.bfloat16, bitcast=True)
    else:
        return x.to(DTYPE)


@triton.jit
def _block(blocks_ptr, tensors_ptr, found_inf_ptr, HAS_FOUND_INF: tl.constexpr, BLOCK: tl.constexpr,
           ALIGNED: tl.constexpr):
    """This program's tensor-table row, element offsets, mask and configuration row. When AMP found
    inf/nan in the gradients (``found_inf`` != 0) the mask is empty: the step is skipped."""
    pid = tl.program_id(0).to(tl.int64)
    entry = blocks_ptr + pid * 4
    tensor = tl.load(entry + 0)
    start = tl.load(entry + 1)
    end = tl.load(entry + 2)
    row = tl.load(entry + 3)
    if HAS_FOUND_INF:
        end = tl.where(tl.load(found_inf_ptr) != 0, start, end)
    if ALIGNED:  # the tables checked it: starts and ends are multiples of 16 elements, addresses of 16
        # bytes; with the end's hint too the mask is uniform over 16 elements, so loads vectorize
        start = tl.multiple_of(start, 16)
        end = tl.multiple_of(end, 16)
    offsets = start + tl.arange(0, BLOCK)
    return tensors_ptr + tensor * 8, offsets, offsets < end, row


@triton.jit
def _address(tensor_row, column: tl.constexpr, DTYPE: tl.constexpr, ALIGNED: tl.constexpr):
    ptr = tl.load(tensor_row + column).to(tl.pointer_type(DTYPE))
    if ALIGNED:
        ptr = tl.multiple_of(ptr, 16)
    return ptr


@triton.jit
def _hyper(ptr, stride, row):
    return tl.load(ptr + row * stride).to(tl.float64)


@triton.jit
def _param_and_grad(tensor_row, offsets, mask, l2, grad_scale_ptr, P_DTYPE: tl.constexpr, G_DTYPE: tl.constexpr,
                    HAS_GRAD_SCALE: tl.constexpr, MAXIMIZE: tl.constexpr, ALIGNED: tl.constexpr):
    """The parameter's address and float32 values, and the gradient as every rule starts from it:
    unscaled (AMP), negated (``maximize``), plus L2 decay ``l2 * param``."""
    p_ptr = _address(tensor_row, 0, P_DTYPE, ALIGNED)
    g_ptr = _address(tensor_row, 1, G_DTYPE, ALIGNED)
    param = tl.load(p_ptr + offsets, mask=mask).to(tl.float32)
    grad = tl.load(g_ptr + offsets, mask=mask).to(tl.float32)
    if HAS_GRAD_SCALE:
        grad = grad / tl.load(grad_scale_ptr).to(tl.float32)
    if MAXIMIZE:
        grad = -grad
    return p_ptr, param, grad + l2 * param


@triton.jit
def _store_param(tensor_row, p_ptr, offsets, mask, new_param, KAHAN: tl.constexpr, P_DTYPE: tl.constexpr,
                 ALIGNED: tl.constexpr):
    """Write ``new_param`` (float32). With ``KAHAN`` the parameter's true value is ``param + comp``:
    the rounding error of each store is kept in the compensation buffer and added back at the next
    step (compensated summation, Kahan 1965), so small updates to bfloat16 weights are not lost."""
    if KAHAN:
        c_ptr = _address(tensor_row, 5, P_DTYPE, ALIGNED)
        comp = tl.load(c_ptr + offsets, mask=mask).to(tl.float32)
        exact = new_param + comp
        stored = _to(exact, P_DTYPE)
        tl.store(p_ptr + offsets, stored, mask=mask)
        tl.store(c_ptr + offsets, _to(exact - stored.to(tl.float32), P_DTYPE), mask=mask)
    else:
        tl.store(p_ptr + offsets, _to(new_param, P_DTYPE), mask=mask)


@triton.jit
def adam_kernel(
    blocks_ptr, tensors_ptr,
    lr_ptr, lr_stride, beta1_ptr, beta1_stride, beta2_ptr, beta2_stride,
    l2_ptr, l2_stride, decoupled_ptr, decoupled_stride, eps_ptr, eps_stride,
    grad_scale_ptr, found_inf_ptr,
    P_DTYPE: tl.constexpr, G_DTYPE: tl.constexpr, S_DTYPE: tl.constexpr,
    AMSGRAD: tl.constexpr, MAXIMIZE: tl.constexpr, KAHAN: tl.constexpr,
    HAS_GRAD_SCALE: tl.constexpr, HAS_FOUND_INF: tl.constexpr,
    ALIGNED: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    r"""Adam / AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), torch.optim's form:

    .. math::
        g &\leftarrow \pm g / s + \lambda_{L2}\theta, \qquad
        \theta \leftarrow \theta(1 - \gamma\lambda_{dec})\\
        m &\leftarrow m + (1-\beta_1)(g - m), \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2
        \quad [\hat v \leftarrow \max(\hat v, v)]\\
        \theta &\leftarrow \theta - \frac{\gamma}{1-\beta_1^t}\,
            \frac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon}
    """
    tensor_row, offsets, mask, row = _block(blocks_ptr, tensors_ptr, found_inf_ptr, HAS_FOUND_INF, BLOCK, ALIGNED)
    m_ptr = _address(tensor_row, 2, S_DTYPE, ALIGNED)
    v_ptr = _address(tensor_row, 3, S_DTYPE, ALIGNED)
    # at least 1: a first step that AMP skips leaves the count at 0, and its (unused) bias
    # corrections would divide by 1 - beta^0 = 0
    step = tl.maximum(tl.load(tl.load(tensor_row + 6).to(tl.pointer_type(tl.float32))).to(tl.int64), 1)

    lr = _hyper(lr_ptr, lr_stride, row)
    beta1 = _hyper(beta1_ptr, beta1_stride, row)
    beta2 = _hyper(beta2_ptr, beta2_stride, row)
    l2 = _hyper(l2_ptr, l2_stride, row).to(tl.float32)
    decay = (1.0 - lr * _hyper(decoupled_ptr, decoupled_stride, row)).to(tl.float32)
    eps = _hyper(eps_ptr, eps_stride, row).to(tl.float32)
    step_size = (lr / (1.0 - _pow(beta1, step))).to(tl.float32)
    bias_correction2_sqrt = tl.sqrt(1.0 - _pow(beta2, step)).to(tl.float32)
    one_minus_beta1 = (1.0 - beta1).to(tl.float32)
    beta2_f = beta2.to(tl.float32)
    one_minus_beta2 = (1.0 - beta2).to(tl.float32)

    p_ptr, param, grad = _param_and_grad(tensor_row, offsets, mask, l2, grad_scale_ptr, P_DTYPE, G_DTYPE,
                                         HAS_GRAD_SCALE, MAXIMIZE, ALIGNED)  # fmt: skip
    m = tl.load(m_ptr + offsets, mask=mask).to(tl.float32)
    v = tl.load(v_ptr + offsets, mask=mask).to(tl.float32)
    param = param * decay
    m = m + one_minus_beta1 * (grad - m)
    v = beta2_f * v + one_minus_beta2 * grad * grad
    tl.store(m_ptr + offsets, _to(m, S_DTYPE), mask=mask)
    tl.store(v_ptr + offsets, _to(v, S_DTYPE), mask=mask)
    if AMSGRAD:
        vmax_ptr = _address(tensor_row, 4, S_DTYPE, ALIGNED)
        v = tl.maximum(tl.load(vmax_ptr + offsets, mask=mask).to(tl.float32), v)
        tl.store(vmax_ptr + offsets, _to(v, S_DTYPE), mask=mask)
    denom = tl.sqrt(v) / bias_correction2_sqrt + eps
    param = param - step_size * (m / denom)
    _store_param(tensor_row, p_ptr, offsets, mask, param, KAHAN, P_DTYPE, ALIGNED)


@triton.jit
def sgd_kernel(
    blocks_ptr, tensors_ptr,
    lr_ptr, lr_stride, momentum_ptr, momentum_stride, dampening_ptr, dampening_stride,
    l2_ptr, l2_stride, grad_scale_ptr, found_inf_ptr,
    P_DTYPE: tl.constexpr, G_DTYPE: tl.constexpr, S_DTYPE: tl.constexpr,
    MOMENTUM: tl.constexpr, FIRST_STEP: tl.constexpr, NESTEROV: tl.constexpr,
    MAXIMIZE: tl.constexpr, KAHAN: tl.constexpr,
    HAS_GRAD_SCALE: tl.constexpr, HAS_FOUND_INF: tl.constexpr,
    ALIGNED: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    r"""SGD with momentum, torch.optim's form (Sutskever et al. 2013 for Nesterov):

    .. math::
        g \leftarrow \pm g / s + \lambda\theta, \quad
        b \leftarrow \mu b + (1-\tau) g \;(b_1 = g), \quad
        d = g + \mu b \text{ (Nesterov) or } b, \quad \theta \leftarrow \theta - \gamma d
    """
    tensor_row, offsets, mask, row = _block(blocks_ptr, tensors_ptr, found_inf_ptr, HAS_FOUND_INF, BLOCK, ALIGNED)
    lr = _hyper(lr_ptr, lr_stride, row).to(tl.float32)
    l2 = _hyper(l2_ptr, l2_stride, row).to(tl.float32)
    p_ptr, param, grad = _param_and_grad(tensor_row, offsets, mask, l2, grad_scale_ptr, P_DTYPE, G_DTYPE,
                                         HAS_GRAD_SCALE, MAXIMIZE, ALIGNED)  # fmt: skip
    direction = grad
    if MOMENTUM:
        b_ptr = _address(tensor_row, 2, S_DTYPE, ALIGNED)
        momentum = _hyper(momentum_ptr, momentum_stride, row).to(tl.float32)
        if FIRST_STEP:
            buf = grad
        else:
            dampening = _hyper(dampening_ptr, dampening_stride, row).to(tl.float32)
            buf = momentum * tl.load(b_ptr + offsets, mask=mask).to(tl.float32) + (1.0 - dampening) * grad
        tl.store(b_ptr + offsets, _to(buf, S_DTYPE), mask=mask)
        if NESTEROV:
            direction = grad + momentum * buf
        else:
            direction = buf
    param = param - lr * direction
    _store_param(tensor_row, p_ptr, offsets, mask, param, KAHAN, P_DTYPE, ALIGNED)


@triton.jit
def count_steps_kernel(tensors_ptr, count, found_inf_ptr, HAS_FOUND_INF: tl.constexpr, BLOCK: tl.constexpr):
    """``step += 1`` for the step counts of tensor-table rows ``0 : count`` (float32 scalars on the
    device), in one launch rather than a foreach call; a step that AMP skips (``found_inf`` != 0)
    does not count."""
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = rows < count
    step_ptr = tl.load(tensors_ptr + rows.to(tl.int64) * 8 + 6, mask=mask, other=0).to(tl.pointer_type(tl.float32))
    increment = 1.0
    if HAS_FOUND_INF:
        increment = tl.where(tl.load(found_inf_ptr) != 0, 0.0, 1.0)
    tl.store(step_ptr, tl.load(step_ptr, mask=mask) + increment, mask=mask)
