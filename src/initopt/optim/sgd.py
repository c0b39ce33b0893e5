r"""SGD with momentum, dampening, Nesterov and L2 weight decay: ``torch.optim.SGD``'s numerics.

Layout as in ``torch/optim/sgd.py``: the class gathers params, grads and momentum buffers and
calls :func:`sgd`, which dispatches to :func:`_single_tensor_sgd` (reads like the algorithm box,
built from the pure functions below), :func:`_multi_tensor_sgd` (``torch._foreach_*``) or
:func:`initopt.optim.fused.fused_sgd_`.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor
from torch.optim.optimizer import ParamsT

from . import fused as _fused
from .decay import l2_grad
from .optimizer import (
    BaseOptimizer,
    _device_dtype_check_for_fused,
    _use_grad_for_differentiable,
    axpy,
    axpy_,
    cast_like,
    check_nonnegative,
    check_one_element,
    check_state_dtype,
    item,
    kahan_for,
    present,
    saved_copy,
    to_scalar,
)
from .paths import step_path

__all__ = ["SGD", "nesterov_direction", "sgd", "sgd_momentum", "sgd_update_"]


# --------------------------------------------------------------------------------------------
# Pure math. Hyperparameters: Python numbers or tensors broadcastable against the parameter.
# --------------------------------------------------------------------------------------------
def sgd_momentum(
    buf: Tensor | None, grad: Tensor, momentum: float | Tensor, dampening: float | Tensor
) -> Tensor:
    r"""Heavy-ball buffer, PyTorch's form: :math:`b \leftarrow \mu b + (1-\tau) g`, in place.

    The first call (``buf is None``) returns a copy of the gradient, :math:`b_1 = g_1`: no
    dampening on step 1 (``torch.optim.SGD``'s convention; Keras/optax start from zero).
    PyTorch keeps ``lr`` out of the buffer (:math:`\theta \leftarrow \theta - \gamma b`), whereas
    Sutskever et al. 2013 and Polyak write :math:`v \leftarrow \mu v - \gamma g,\ \theta
    \leftarrow \theta + v`; the two agree for a constant lr and differ when the lr changes.
    """
    if buf is None:
        return grad.detach().clone()
    buf.mul_(cast_like(momentum, buf))
    return axpy_(buf, grad, 1 - dampening)


def nesterov_direction(grad: Tensor, buf: Tensor, momentum: float | Tensor) -> Tensor:
    r"""Nesterov's look-ahead direction, PyTorch's form: :math:`g + \mu b` (a new tensor).

    Sutskever et al. 2013 ("On the importance of initialization and momentum in deep learning",
    ICML) evaluate the gradient at :math:`\theta + \mu v`; rewriting in the look-ahead variable
    gives this step, with ``lr`` outside the buffer as in :func:`sgd_momentum`.
    """
    return axpy(grad, buf, momentum)


def sgd_update_(param: Tensor, direction: Tensor, lr: float | Tensor) -> Tensor:
    r"""The descent step in place: :math:`\theta \leftarrow \theta - \gamma d`."""
    return axpy_(param, direction, -lr)


# --------------------------------------------------------------------------------------------
# Class
# --------------------------------------------------------------------------------------------
class SGD(BaseOptimizer):
    r"""Stochastic gradient descent with momentum, numerically identical to ``torch.optim.SGD``.

    .. math::
        g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1}
            \quad(\text{minus for } maximize)\\
        b_t &\leftarrow \mu b_{t-1} + (1-\tau) g_t \quad (b_1 = g_1)\\
        d_t &\leftarrow g_t + \mu b_t \ \text{(nesterov)} \quad\text{or}\quad b_t\\
        \theta_t &\leftarrow \theta_{t-1} - \gamma d_t

    Robbins & Monro 1951; momentum after Polyak 1964; Nesterov as in Sutskever et al. 2013.
    Conventions that differ elsewhere: ``lr`` multiplies the buffer at the step, not inside it
    (Sutskever et al. write :math:`v \leftarrow \mu v - \gamma g`); the buffer starts at the first
    gradient, so dampening applies from step 2; ``weight_decay`` is an L2 term in the gradient.

    Args (names, order and defaults of ``torch.optim.SGD``):
        params: parameters, named parameters, or param-group dicts.
        lr: learning rate :math:`\gamma` (float or 1-element tensor; default 1e-3).
        momentum: :math:`\mu \ge 0` (default 0).
        dampening: :math:`\tau` (default 0).
        weight_decay: L2 coefficient :math:`\lambda \ge 0` (default 0).
        nesterov: Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
        maximize: ascend instead of descend.
        foreach, fused: pick the implementation (see :func:`initopt.optim.paths.step_path`).
        differentiable: let autograd through ``step`` (per-tensor path only).
        state_dtype: dtype of ``momentum_buffer`` (default None: the gradient's), e.g.
            ``torch.bfloat16``; the math stays float32 (:mod:`initopt.optim.lowp`, or the Triton
            kernels on CUDA).
        kahan_sum: compensated summation for bfloat16/float16 parameters (state key
            ``kahan_comp``). Default None: on with ``fused=True`` where initopt's Triton kernels
            run, off elsewhere (torch.optim's numerics).

    Example:
        >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)  # doctest: +SKIP

    State per parameter: ``momentum_buffer`` (when ``momentum != 0``), as in torch.
    """

    group_defaults = {
        "nesterov": False,
        "maximize": False,
        "foreach": None,
        "differentiable": False,
        "fused": False,
        "state_dtype": None,
        "kahan_sum": None,
    }

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
        state_dtype: torch.dtype | None = None,
        kahan_sum: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
            "state_dtype": state_dtype,
            "kahan_sum": kahan_sum,
        }
        self.check_group(defaults)
        super().__init__(params, defaults)
        self.choose_default_fused()
        if fused:
            self._step_supports_amp_scaling = True
            self._need_device_dtype_check_for_fused = True
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def check_group(self, group: dict[str, Any]) -> None:
        """``ValueError`` for lr, momentum or weight_decay < 0, or a Nesterov misconfiguration;
        torch.optim.SGD's checks in its order and with its texts, then initopt's."""
        check_nonnegative("lr", group["lr"])
        check_nonnegative("momentum", group["momentum"])
        check_nonnegative("weight_decay", group["weight_decay"])
        check_one_element("dampening", group["dampening"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        check_state_dtype(group.get("state_dtype"))

    def _init_group(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        momentum_buffer_list: list[Tensor | None],
        compensation: list[Tensor | None],
    ) -> bool:
        has_sparse_grad = False
        for p in group["params"]:
            if p.grad is None:
                continue
            if group["fused"] and getattr(self, "_need_device_dtype_check_for_fused", True):
                _device_dtype_check_for_fused(p)
                self._need_device_dtype_check_for_fused = False
            params.append(p)
            grads.append(p.grad)
            has_sparse_grad |= p.grad.is_sparse
            if group["momentum"] != 0:
                momentum_buffer_list.append(self.state[p].get("momentum_buffer"))
            if kahan_for(group, p):
                state = self.state[p]
                if "kahan_comp" not in state:
                    state["kahan_comp"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                compensation.append(state["kahan_comp"])
            else:
                compensation.append(None)
        return has_sparse_grad

    @_use_grad_for_differentiable
    def step(self, closure: Any = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params: list[Tensor] = []
            grads: list[Tensor] = []
            momentum_buffer_list: list[Tensor | None] = []
            compensation: list[Tensor | None] = []
            has_sparse_grad = self._init_group(group, params, grads, momentum_buffer_list, compensation)
            fused, grad_scale, found_inf, skip = self.sparse_fallback(group, has_sparse_grad, grads)
            if skip:
                continue
            sgd(
                params,
                grads,
                momentum_buffer_list,
                weight_decay=group["weight_decay"],
                momentum=group["momentum"],
                lr=group["lr"],
                dampening=group["dampening"],
                nesterov=group["nesterov"],
                maximize=group["maximize"],
                has_sparse_grad=has_sparse_grad,
                foreach=group["foreach"],
                fused=fused,
                differentiable=group["differentiable"],
                grad_scale=grad_scale,
                found_inf=found_inf,
                state_dtype=group["state_dtype"],
                compensation=present(compensation),
                plans=self.kernel_plans(),
            )
            if group["momentum"] != 0:
                for p, buf in zip(params, momentum_buffer_list, strict=True):
                    self.state[p]["momentum_buffer"] = buf
        return loss


# --------------------------------------------------------------------------------------------
# Functional API and the three paths
# --------------------------------------------------------------------------------------------
def sgd(
    params: list[Tensor],
    d_p_list: list[Tensor],
    momentum_buffer_list: list[Tensor | None],
    has_sparse_grad: bool = False,
    foreach: bool | None = None,
    fused: bool | None = None,
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
    differentiable: bool = False,
    *,
    weight_decay: float | Tensor,
    momentum: float,
    lr: float | Tensor,
    dampening: float,
    nesterov: bool,
    maximize: bool,
    state_dtype: torch.dtype | None = None,
    compensation: list[Tensor | None] | None = None,
    plans: dict | None = None,
) -> None:
    """Functional SGD: one step over lists of tensors (signature of ``torch.optim.sgd``).

    Fills ``momentum_buffer_list`` entries that are ``None`` with new buffers (of
    ``state_dtype``). Buffers in another dtype than the parameters, or ``compensation`` (Kahan
    buffers), go to initopt's kernels (:mod:`initopt.optim.fused`) whatever the path.
    """
    low_precision = compensation is not None or (
        momentum != 0
        and any(
            (b.dtype if b is not None else (state_dtype or p.dtype)) != p.dtype
            for b, p in zip(momentum_buffer_list, params)
        )
    )
    path = step_path(params, foreach=foreach, fused=fused, differentiable=differentiable,
                     low_precision=low_precision).path
    if path == "fused":
        if differentiable:
            raise RuntimeError("SGD with fused=True or a state_dtype does not support differentiable=True")
        _fused.fused_sgd_(
            params, d_p_list, momentum_buffer_list, weight_decay=weight_decay,
            momentum=momentum, lr=lr, dampening=dampening, nesterov=nesterov,
            maximize=maximize, grad_scale=grad_scale, found_inf=found_inf,
            state_dtype=state_dtype, compensation=cast("list[Tensor]", compensation) if compensation else None,
            plans=plans,
        )  # fmt: skip
        return
    if grad_scale is not None or found_inf is not None:
        raise RuntimeError("grad_scale / found_inf (AMP) are only supported with fused=True")
    func = _multi_tensor_sgd if path == "foreach" else _single_tensor_sgd
    func(
        params, d_p_list, momentum_buffer_list, weight_decay=weight_decay, momentum=momentum,
        lr=lr, dampening=dampening, nesterov=nesterov, maximize=maximize,
        has_sparse_grad=has_sparse_grad, differentiable=differentiable,
    )  # fmt: skip


def _single_tensor_sgd(
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
    has_sparse_grad: bool,
    differentiable: bool = False,
) -> None:
    """Reference path: the algorithm box, one tensor at a time."""
    lr = to_scalar(lr)
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        if weight_decay != 0:
            grad = l2_grad(grad, saved_copy(param, differentiable), weight_decay)
        if momentum != 0:
            buf = momentum_buffer_list[i] = sgd_momentum(
                momentum_buffer_list[i], grad, momentum, dampening
            )
            if nesterov:
                grad = nesterov_direction(grad, buf, momentum)
            else:  # sgd_update_ keeps the direction for d/d lr; the next step updates buf in place
                grad = saved_copy(buf, differentiable)
        sgd_update_(param, grad, lr)


def _multi_tensor_sgd(
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
    has_sparse_grad: bool,
    differentiable: bool = False,
) -> None:
    """Foreach path: the same ops as :func:`_single_tensor_sgd`, over lists per device/dtype
    (``differentiable``: the shared signature; only the per-tensor path copies what autograd keeps)."""
    if not params:
        return
    # A tensor lr / weight decay is read once: foreach ops take Python scalars (exact for f32).
    neg_lr = item(-to_scalar(lr))
    weight_decay = item(weight_decay)
    groups = torch.optim.Optimizer._group_tensors_by_device_and_dtype(
        [params, grads, momentum_buffer_list], with_indices=True  # type: ignore[list-item]
    )
    for (d_params_, d_grads_, d_bufs), indices in groups.values():
        d_params = cast(list[Tensor], d_params_)
        d_grads = cast(list[Tensor], d_grads_)
        sparse = has_sparse_grad and any(g.is_sparse for g in d_grads)
        if maximize:
            d_grads = list(torch._foreach_neg(d_grads))
        if weight_decay != 0:
            if maximize:  # reuse the negated copy
                torch._foreach_add_(d_grads, d_params, alpha=weight_decay)
            else:
                d_grads = list(torch._foreach_add(d_grads, d_params, alpha=weight_decay))
        if momentum != 0:
            if all(b is not None for b in d_bufs):
                bufs = cast(list[Tensor], list(d_bufs))
                torch._foreach_mul_(bufs, momentum)
                torch._foreach_add_(bufs, d_grads, alpha=1 - dampening)
            else:  # some buffers start now: b_1 = g_1
                bufs = []
                for j, buf in enumerate(d_bufs):
                    buf = sgd_momentum(buf, d_grads[j], momentum, dampening)
                    d_bufs[j] = momentum_buffer_list[indices[j]] = buf
                    bufs.append(buf)
            if nesterov:
                # out of place: torch.optim writes g + mu*b into p.grad here; we leave grads alone
                d_grads = list(torch._foreach_add(d_grads, bufs, alpha=momentum))
            else:
                d_grads = bufs
        if not sparse:
            torch._foreach_add_(d_params, d_grads, alpha=neg_lr)
        else:  # foreach ops do not take sparse tensors
            for p, g in zip(d_params, d_grads, strict=True):
                p.add_(g, alpha=neg_lr)
