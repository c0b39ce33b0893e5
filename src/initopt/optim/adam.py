r"""Adam and AdamW with ``torch.optim``'s numerics; AdamW is Adam with decoupled weight decay.

Layout as in ``torch/optim/adam.py``: the class gathers params, grads and state and calls
:func:`adam`, which dispatches to :func:`_single_tensor_adam` (the algorithm box, built from the
pure functions below), :func:`_multi_tensor_adam` (``torch._foreach_*``) or
:func:`initopt.optim.fused.fused_adam_`. Every path does the same floating-point operations in
the same order as its ``torch.optim`` counterpart, so results agree bitwise on CPU.

The moments are :math:`m \leftarrow \beta_1 m + (1-\beta_1) g` and
:math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2` (Kingma & Ba 2015, Algorithm 1). The notes this
project started from had them the other way round; see docs/optim.md.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor
from torch.optim.optimizer import ParamsT

from . import fused as _fused
from .decay import DECAY_MODES, decoupled_decay_, effective_weight_decay, l2_grad
from .optimizer import (
    BaseOptimizer,
    _device_dtype_check_for_fused,
    _get_scalar_dtype,
    _use_grad_for_differentiable,
    cast_like,
    check_beta,
    check_beta_types,
    check_choice,
    check_nonnegative,
    check_state_dtype,
    device_tensor,
    invalid,
    is_host_scalar,
    item,
    kahan_for,
    low_precision_state,
    present,
    saved_copy,
    to_scalar,
    view_as_real,
)
from .paths import step_path

__all__ = ["Adam", "AdamW", "adam", "adam_moments_", "adam_step_size", "adam_update_"]

#: devices on which ``capturable=True`` may keep ``step`` (as torch.optim; CPU is not one)
CAPTURABLE_DEVICES = ("cuda", "xpu", "hpu", "xla", torch._C._get_privateuse1_backend_name())


# --------------------------------------------------------------------------------------------
# Pure math. Hyperparameters: Python numbers, 0-dim tensors, or tensors broadcastable against
# the parameter (e.g. shape (K, 1) for K stacked configurations of a (K, n) parameter).
# --------------------------------------------------------------------------------------------
def adam_moments_(
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    grad: Tensor,
    beta1: float | Tensor,
    beta2: float | Tensor,
) -> None:
    r"""Update Adam's moment estimates in place (Kingma & Ba 2015, Algorithm 1):

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1)\,g, \qquad
        v \leftarrow \beta_2 v + (1-\beta_2)\,g^2

    :math:`m` is computed as ``m.lerp_(g, 1 - beta1)`` (= :math:`m + (1-\beta_1)(g-m)`), the
    form ``torch.optim`` uses, so results match it bitwise.
    """
    exp_avg.lerp_(grad, cast_like(1 - beta1, exp_avg))
    exp_avg_sq.mul_(cast_like(beta2, exp_avg_sq))
    if is_host_scalar(beta2):
        exp_avg_sq.addcmul_(grad, grad, value=1 - beta2)
    else:  # addcmul's value must be a number: round((1-b2)*g)*g as the scalar form computes it
        exp_avg_sq.addcmul_(grad * cast_like(1 - beta2, grad), grad)


def adam_step_size(
    lr: float | Tensor, beta1: float | Tensor, beta2: float | Tensor, step: float | Tensor
) -> tuple[Any, Any]:
    r"""Bias-corrected step size and denominator scale at step :math:`t`:

    .. math::
        \alpha_t = \frac{\gamma}{1-\beta_1^t}, \qquad s_t = \sqrt{1-\beta_2^t}

    Kingma & Ba 2015 divide :math:`m` and :math:`v` by :math:`1-\beta^t` ("bias correction",
    Section 3); folding the corrections into these two scalars saves two parameter-sized passes
    and is what torch does.
    """
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    return lr / bias_correction1, bias_correction2**0.5


def adam_update_(
    param: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    *,
    lr: float | Tensor,
    beta1: float | Tensor,
    beta2: float | Tensor,
    eps: float | Tensor,
    step: float | Tensor,
    max_exp_avg_sq: Tensor | None = None,
) -> None:
    r"""The Adam step in place, given updated moments (call :func:`adam_moments_` first):

    .. math::
        \theta \leftarrow \theta - \alpha_t \, \frac{m}{\sqrt{v}/s_t + \epsilon}
        \;=\; \theta - \gamma\,\frac{\hat m}{\sqrt{\hat v} + \epsilon},
        \quad \hat m = \frac{m}{1-\beta_1^t},\ \hat v = \frac{v}{1-\beta_2^t}

    with :math:`\alpha_t, s_t` from :func:`adam_step_size`. Call it under ``torch.no_grad()``
    (as ``step`` does); with grad enabled it keeps what autograd needs. Two conventions to know:

    * :math:`\epsilon` is added *outside* the square root and *after* the bias correction of
      :math:`v`, i.e. :math:`\sqrt{\hat v} + \epsilon` as in the paper and PyTorch (optax's
      ``eps_root`` is the inside-the-sqrt variant; TF1/Keras add it before correcting).
    * AMSGrad (Reddi et al. 2018, ``max_exp_avg_sq`` given): :math:`v^{max} \leftarrow
      \max(v^{max}, v)` and the denominator uses :math:`v^{max}` (PyTorch's form keeps
      :math:`\hat v` bias-corrected, unlike the paper's algorithm).
    """
    step_size, bias_correction2_sqrt = adam_step_size(lr, beta1, beta2, step)
    second = exp_avg_sq
    if max_exp_avg_sq is not None:
        if torch.is_grad_enabled():  # differentiable: no out= (not recorded); autograd keeps
            # copies of both inputs, which later steps overwrite in place (torch.optim fails here)
            max_exp_avg_sq.copy_(torch.maximum(max_exp_avg_sq.clone(), exp_avg_sq.clone()))
        else:
            torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second = max_exp_avg_sq
    denom = (second.sqrt() / cast_like(bias_correction2_sqrt, second)).add_(cast_like(eps, second))
    exp_avg = saved_copy(exp_avg, torch.is_grad_enabled())  # kept by autograd; lerp_'d next step
    if is_host_scalar(step_size):
        param.addcdiv_(exp_avg, denom, value=-step_size)
    else:  # addcdiv's value must be a number: round(m/d) * step as addcdiv computes it
        param.addcmul_(exp_avg / denom, cast_like(-step_size, param))


# --------------------------------------------------------------------------------------------
# Classes
# --------------------------------------------------------------------------------------------
class Adam(BaseOptimizer):
    r"""Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", ICLR),
    numerically identical to ``torch.optim.Adam``.

    .. math::
        g_t &\leftarrow \pm\nabla f(\theta_{t-1})
            \;[+\ \lambda\theta_{t-1} \text{ if L2 decay}]\\
        \theta_{t-1} &\leftarrow \theta_{t-1}(1-\gamma_t\lambda)
            \quad\text{if decoupled\_weight\_decay (AdamW)}\\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2\\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\gamma_t}{1-\beta_1^t}\,
            \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    ``weight_decay`` is an L2 term added to the gradient unless ``decoupled_weight_decay=True``
    (then this is :class:`AdamW`). :math:`\epsilon` sits outside the square root, after bias
    correction (PyTorch's and the paper's form). ``amsgrad`` uses :math:`\max_{s\le t} v_s`
    (Reddi et al. 2018, "On the Convergence of Adam and Beyond").

    Args (names, order and defaults of ``torch.optim.Adam``, plus ``decay``):
        params: parameters, named parameters, or param-group dicts.
        lr: :math:`\gamma` (float or 1-element tensor; default 1e-3).
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1); both floats or both 1-element tensors.
        eps: :math:`\epsilon \ge 0` (default 1e-8).
        weight_decay: :math:`\lambda \ge 0` (default 0).
        amsgrad: the AMSGrad variant (default False).
        foreach, fused: pick the implementation (see :func:`initopt.optim.paths.step_path`).
            Unlike torch.optim, ``foreach=True`` also accepts a (CPU) tensor ``lr`` / ``betas``.
        maximize, capturable, differentiable: as in torch.optim.
        decoupled_weight_decay: AdamW's decay, :math:`\theta(1-\gamma\lambda)` (default False).
        decay: with decoupled decay, ``"coupled"`` (PyTorch: strength :math:`\gamma_t\lambda`) or
            ``"independent"`` (strength :math:`\lambda\gamma_t/\gamma_0`); see
            :mod:`initopt.optim.decay`.
        state_dtype: dtype of ``exp_avg``/``exp_avg_sq`` (default None: the parameter's), e.g.
            ``torch.bfloat16`` to halve the state's memory and bytes per step; the math stays
            float32 (:mod:`initopt.optim.lowp`, or the Triton kernels on CUDA).
        kahan_sum: compensated summation for bfloat16/float16 parameters (state key
            ``kahan_comp``). Default None: on with ``fused=True`` where initopt's Triton kernels
            run, off elsewhere (torch.optim's numerics).

    State per parameter (as torch): ``step`` (0-dim float32 tensor; on the param's device if
    fused or capturable, else CPU), ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).
    Param-group keys beyond torch's: ``decay``, and ``initial_lr`` for independent decay.

    Example:
        >>> opt = Adam(model.parameters(), lr=3e-4, betas=(0.9, 0.95))  # doctest: +SKIP
    """

    group_defaults = {
        "amsgrad": False,
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
        "fused": None,
        "decay": "coupled",
        "state_dtype": None,
        "kahan_sum": None,
    }

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
        decay: str = "coupled",
        state_dtype: torch.dtype | None = None,
        kahan_sum: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
            "decay": decay,
            "state_dtype": state_dtype,
            "kahan_sum": kahan_sum,
        }
        self.check_group(defaults)
        defaults["betas"] = (to_scalar(betas[0]), to_scalar(betas[1]))
        super().__init__(params, defaults)
        self.choose_default_fused()
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            self._step_supports_amp_scaling = True
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def check_group(self, group: dict[str, Any]) -> None:
        """``ValueError`` for lr, eps or weight_decay < 0, betas outside [0, 1), a bad decay;
        torch.optim.Adam's checks in its order and with its texts, then initopt's."""
        check_nonnegative("lr", group["lr"])
        check_nonnegative("eps", group["eps"])
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise invalid("betas", betas, "must be a pair (beta1, beta2)")
        check_beta(0, betas[0])
        check_beta(1, betas[1])
        check_nonnegative("weight_decay", group["weight_decay"])
        check_beta_types(betas)
        check_choice("decay", group["decay"], DECAY_MODES)
        check_state_dtype(group.get("state_dtype"))
        if group["decay"] == "independent" and not group["decoupled_weight_decay"]:
            raise invalid(
                "decay", "independent",
                "it scales decoupled weight decay; use AdamW or Adam(decoupled_weight_decay=True)",
            )

    def complete_group(self, group: dict[str, Any]) -> None:
        """Independent decay: keep the lr at construction as ``initial_lr``; tensor ``step``."""
        if group["decay"] == "independent":
            # torch LR schedulers setdefault the same key, so theirs and ours agree
            initial_lr = group.setdefault("initial_lr", item(group["lr"]))
            if not initial_lr > 0:
                raise invalid(
                    "initial_lr", initial_lr,
                    "decay='independent' decays by weight_decay * lr / initial_lr, so initial_lr must be > 0",
                )
        # Old checkpoints stored ``step`` as a number (torch.optim converts it the same way).
        for p in group["params"]:
            p_state = self.state.get(p, {})
            if len(p_state) != 0 and not torch.is_tensor(p_state["step"]):
                on_device = group["capturable"] or group["fused"]
                p_state["step"] = torch.tensor(
                    float(p_state["step"]),
                    dtype=_get_scalar_dtype(is_fused=group["fused"]),
                    device=p.device if on_device else None,
                )

    @staticmethod
    def _init_state(group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        """A parameter's state at its first step: ``step`` 0, zero moments (and Kahan buffer)."""
        if group["fused"]:
            _device_dtype_check_for_fused(p)
        # torch keeps step on the CPU unless a kernel on the device must read it
        low = low_precision_state(group, p)
        on_device = group["capturable"] or group["fused"] or low
        state["step"] = torch.zeros(
            (),
            dtype=_get_scalar_dtype(is_fused=group["fused"] or low),
            device=p.device if on_device else "cpu",
        )
        zeros = lambda: torch.zeros_like(  # noqa: E731
            p, dtype=group["state_dtype"], memory_format=torch.preserve_format
        )
        state["exp_avg"] = zeros()
        state["exp_avg_sq"] = zeros()
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros()
        if kahan_for(group, p):
            state["kahan_comp"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def _init_group(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        exp_avgs: list[Tensor],
        exp_avg_sqs: list[Tensor],
        max_exp_avg_sqs: list[Tensor],
        state_steps: list[Tensor],
        compensation: list[Tensor | None],
    ) -> bool:
        has_complex = False
        amsgrad, differentiable = group["amsgrad"], group["differentiable"]
        # complex parameters matter to the foreach and loop paths (views as real); the fused kernels
        # refuse them when their state is made
        find_complex = not group["fused"]
        # a step walks every parameter: the loop keeps to locals (thousands of small tensors)
        append_param, append_grad, append_step = params.append, grads.append, state_steps.append
        append_m, append_v, append_comp = exp_avgs.append, exp_avg_sqs.append, compensation.append
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            if grad.is_sparse:
                raise RuntimeError("Adam does not support sparse gradients, use SparseAdam")
            if find_complex:
                has_complex |= torch.is_complex(p)
            append_param(p)
            append_grad(grad)
            state = self.state[p]
            if len(state) == 0:
                self._init_state(group, p, state)
            append_m(state["exp_avg"])
            append_v(state["exp_avg_sq"])
            if amsgrad:
                max_exp_avg_sqs.append(state["max_exp_avg_sq"])
            append_comp(state.get("kahan_comp"))
            step = state["step"]
            if differentiable and step.requires_grad:
                raise RuntimeError("`requires_grad` is not supported for `step` in differentiable mode")
            append_step(step)
        return has_complex

    @_use_grad_for_differentiable
    def step(self, closure: Any = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        health_check = getattr(self, "_accelerator_graph_capture_health_check", None) or getattr(
            self, "_cuda_graph_capture_health_check", None
        )
        if health_check is not None:
            health_check()
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params: list[Tensor] = []
            grads: list[Tensor] = []
            exp_avgs: list[Tensor] = []
            exp_avg_sqs: list[Tensor] = []
            max_exp_avg_sqs: list[Tensor] = []
            state_steps: list[Tensor] = []
            compensation: list[Tensor | None] = []
            has_complex = self._init_group(
                group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, compensation
            )
            beta1, beta2 = group["betas"]
            adam(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                max_exp_avg_sqs,
                state_steps,
                foreach=group["foreach"],
                capturable=group["capturable"],
                differentiable=group["differentiable"],
                fused=group["fused"],
                grad_scale=getattr(self, "grad_scale", None),
                found_inf=getattr(self, "found_inf", None),
                has_complex=has_complex,
                decoupled_weight_decay=group["decoupled_weight_decay"],
                amsgrad=group["amsgrad"],
                beta1=beta1,
                beta2=beta2,
                lr=group["lr"],
                weight_decay=effective_weight_decay(group),
                eps=group["eps"],
                maximize=group["maximize"],
                compensation=present(compensation),
                state_dtype=group["state_dtype"],
                plans=self.kernel_plans(),
            )
        return loss


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", ICLR):
    :class:`Adam` with ``decoupled_weight_decay=True``; identical to ``torch.optim.AdamW``
    for the default ``decay="coupled"``.

    .. math::
        \theta_{t-1} &\leftarrow \theta_{t-1}\,(1 - \gamma_t\lambda)
            \qquad(\texttt{decay="coupled"}, \text{ PyTorch})\\
        \theta_{t-1} &\leftarrow \theta_{t-1}\,(1 - \lambda\,\gamma_t/\gamma_0)
            \qquad(\texttt{decay="independent"})\\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\gamma_t}{1-\beta_1^t}\,
            \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    with the moments of :class:`Adam` computed from the raw gradient (the decay does not enter
    :math:`m, v`). :math:`\gamma_0` is the group's ``initial_lr`` (set by torch LR schedulers,
    otherwise the lr at construction). Why "independent": with PyTorch's rule the decay per step
    is :math:`\gamma\lambda`, so tuning ``lr`` silently retunes the decay; independent decay keeps
    the schedule's shape (warm-up, cosine) but not the base lr, so ``lr`` and ``weight_decay``
    can be measured separately (the paper's Algorithm 2 writes :math:`\eta_t\lambda` with the
    schedule multiplier :math:`\eta_t` only; optimi calls it ``decouple_lr``). Values convert as
    ``weight_decay_independent = lr0 * weight_decay_coupled``.

    Args: as :class:`Adam` without ``decoupled_weight_decay``, ``weight_decay`` default 1e-2,
    keyword order of ``torch.optim.AdamW``, plus ``decay`` ("coupled" | "independent").

    Example:
        >>> opt = AdamW(param_groups(model, 1e-4), lr=1e-3, decay="independent")  # doctest: +SKIP
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decay: str = "coupled",
        state_dtype: torch.dtype | None = None,
        kahan_sum: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
            decay=decay,
            state_dtype=state_dtype,
            kahan_sum=kahan_sum,
        )

    def complete_group(self, group: dict[str, Any]) -> None:
        # AdamW is decoupled whatever a loaded state dict says (torch.optim.AdamW does the same)
        group["decoupled_weight_decay"] = True
        super().complete_group(group)


# --------------------------------------------------------------------------------------------
# Functional API and the three paths
# --------------------------------------------------------------------------------------------
def _is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


def adam(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    foreach: bool | None = None,
    capturable: bool = False,
    differentiable: bool = False,
    fused: bool | None = None,
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
    has_complex: bool = False,
    decoupled_weight_decay: bool = False,
    *,
    amsgrad: bool,
    beta1: float | Tensor,
    beta2: float | Tensor,
    lr: float | Tensor,
    weight_decay: float,
    eps: float,
    maximize: bool,
    compensation: list[Tensor | None] | None = None,
    state_dtype: torch.dtype | None = None,
    plans: dict | None = None,
) -> None:
    """Functional Adam/AdamW: one step over lists (signature of ``torch.optim.adam``).

    ``weight_decay`` is used as given; the classes pass
    :func:`initopt.optim.decay.effective_weight_decay` so that independent decay needs nothing
    here. State in another dtype than the parameters (``state_dtype``), or ``compensation`` (Kahan
    buffers), goes to initopt's kernels (:mod:`initopt.optim.fused`) whatever the path.
    """
    if not all(map(_is_tensor, state_steps)):
        raise RuntimeError("`state_steps` must be a list of 0-dim tensors")
    device_hparams = any(device_tensor(x) for x in (lr, beta1, beta2))
    low_precision = compensation is not None or (
        state_dtype is not None and any(m.dtype != p.dtype for m, p in zip(exp_avgs, params))
    )
    path = step_path(params, foreach=foreach, fused=fused, differentiable=differentiable,
                     tensor_hyperparameters=device_hparams and not capturable, low_precision=low_precision).path
    if path == "fused":
        if differentiable:
            raise RuntimeError("Adam with fused=True or a state_dtype does not support differentiable=True")
        _fused.fused_adam_(
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps,
            amsgrad=amsgrad, beta1=beta1, beta2=beta2, lr=lr, weight_decay=weight_decay,
            eps=eps, maximize=maximize, decoupled_weight_decay=decoupled_weight_decay,
            grad_scale=grad_scale, found_inf=found_inf,
            compensation=cast("list[Tensor]", compensation) if compensation else None,
            low_precision=low_precision, plans=plans,
        )  # fmt: skip
        return
    if grad_scale is not None or found_inf is not None:
        raise RuntimeError("grad_scale / found_inf (AMP) are only supported with fused=True")
    func = _multi_tensor_adam if path == "foreach" else _single_tensor_adam
    func(
        params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps,
        amsgrad=amsgrad, has_complex=has_complex, beta1=beta1, beta2=beta2, lr=lr,
        weight_decay=weight_decay, eps=eps, maximize=maximize, capturable=capturable,
        differentiable=differentiable, decoupled_weight_decay=decoupled_weight_decay,
    )  # fmt: skip


def _check_capturable(params: list[Tensor], state_steps: list[Tensor]) -> None:
    if torch.compiler.is_compiling():  # the compiler checks cudagraph safety itself
        return
    for p, step in zip(params, state_steps, strict=True):
        if not (p.device.type == step.device.type and p.device.type in CAPTURABLE_DEVICES):
            raise AssertionError(
                f"If capturable=True, params and state_steps must be on supported devices: "
                f"{list(CAPTURABLE_DEVICES)}."
            )


def _single_tensor_adam(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    *,
    amsgrad: bool,
    has_complex: bool,
    beta1: float | Tensor,
    beta2: float | Tensor,
    lr: float | Tensor,
    weight_decay: float,
    eps: float,
    maximize: bool,
    capturable: bool,
    differentiable: bool,
    decoupled_weight_decay: bool,
) -> None:
    """Reference path: Algorithm 1 of Kingma & Ba, one tensor at a time."""
    lr, beta1, beta2 = to_scalar(lr), to_scalar(beta1), to_scalar(beta2)
    if capturable:
        _check_capturable(params, state_steps)
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        exp_avg, exp_avg_sq, step_t = exp_avgs[i], exp_avg_sqs[i], state_steps[i]
        max_exp_avg_sq = max_exp_avg_sqs[i] if amsgrad else None
        step_t += 1
        if weight_decay != 0:
            if decoupled_weight_decay:
                decoupled_decay_(param, lr, weight_decay)
            else:
                grad = l2_grad(grad, saved_copy(param, differentiable), weight_decay)
        if torch.is_complex(param):  # complex numbers as pairs of reals (moments per component)
            grad, exp_avg, exp_avg_sq, param = (
                torch.view_as_real(t) for t in (grad, exp_avg, exp_avg_sq, param)
            )
            if max_exp_avg_sq is not None:
                max_exp_avg_sq = torch.view_as_real(max_exp_avg_sq)
        # torch casts a tensor beta1 to the parameter's device and dtype before 1 - beta1
        b1 = beta1.to(param.device, param.dtype) if isinstance(beta1, Tensor) else beta1
        adam_moments_(exp_avg, exp_avg_sq, grad, b1, beta2)
        # a host number, except where torch keeps the tensor: graph capture (no host sync) and
        # differentiable (torch then computes the bias corrections in float32; we follow)
        step = saved_copy(step_t, differentiable) if capturable or differentiable else step_t.item()
        adam_update_(
            param, exp_avg, exp_avg_sq, lr=lr, beta1=beta1, beta2=beta2, eps=eps, step=step,
            max_exp_avg_sq=max_exp_avg_sq,
        )  # fmt: skip


def _multi_tensor_adam(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    *,
    amsgrad: bool,
    has_complex: bool,
    beta1: float | Tensor,
    beta2: float | Tensor,
    lr: float | Tensor,
    weight_decay: float,
    eps: float,
    maximize: bool,
    capturable: bool,
    differentiable: bool,
    decoupled_weight_decay: bool,
) -> None:
    """Foreach path: the ops of :func:`_single_tensor_adam` over lists per device and dtype.

    Without ``capturable``, tensor hyperparameters are combined exactly as the single-tensor
    path combines them and then read as Python numbers, so both paths agree bitwise. With
    ``capturable``, everything stays on the device (torch.optim's capturable branch).
    """
    if not params:
        return
    if differentiable:
        raise RuntimeError("foreach ops do not support autograd (differentiable=True)")
    if capturable:
        _check_capturable(params, state_steps)
    lr, beta1, beta2 = to_scalar(lr), to_scalar(beta1), to_scalar(beta2)
    groups = torch.optim.Optimizer._group_tensors_by_device_and_dtype(
        [params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps]  # type: ignore[list-item]
    )
    for (d_params_, d_grads_, d_exp_avgs_, d_exp_avg_sqs_, d_max_, d_steps_), _ in groups.values():
        d_params = cast(list[Tensor], d_params_)
        d_grads = cast(list[Tensor], d_grads_)
        d_exp_avgs = cast(list[Tensor], d_exp_avgs_)
        d_exp_avg_sqs = cast(list[Tensor], d_exp_avg_sqs_)
        d_max = cast(list[Tensor], d_max_)
        d_steps = cast(list[Tensor], d_steps_)
        if has_complex:
            view_as_real(d_params, d_grads, d_exp_avgs, d_exp_avg_sqs, *([d_max] if amsgrad else []))
        if maximize:
            d_grads = list(torch._foreach_neg(d_grads))
        if d_steps[0].is_cpu:  # one wrapped 1.0 instead of one per tensor on CPU's slow path
            torch._foreach_add_(d_steps, torch.tensor(1.0, device="cpu"), alpha=1.0)
        else:
            torch._foreach_add_(d_steps, 1)
        if weight_decay != 0:
            if decoupled_weight_decay:
                factor = 1 - lr * weight_decay
                torch._foreach_mul_(d_params, factor if capturable else item(factor))
            elif maximize:  # reuse the negated copy
                torch._foreach_add_(d_grads, d_params, alpha=weight_decay)
            else:
                d_grads = list(torch._foreach_add(d_grads, d_params, alpha=weight_decay))
        if capturable:
            _foreach_capturable_tail(
                d_params, d_grads, d_exp_avgs, d_exp_avg_sqs, d_max, d_steps,
                amsgrad=amsgrad, beta1=beta1, beta2=beta2, lr=lr, eps=eps,
            )  # fmt: skip
            continue
        b1 = beta1.to(dtype=d_params[0].dtype) if isinstance(beta1, Tensor) else beta1
        torch._foreach_lerp_(d_exp_avgs, d_grads, item(1 - b1))
        torch._foreach_mul_(d_exp_avg_sqs, item(beta2))
        torch._foreach_addcmul_(d_exp_avg_sqs, d_grads, d_grads, item(1 - beta2))
        del d_grads
        sizes = [adam_step_size(lr, beta1, beta2, s.item()) for s in d_steps]
        neg_step_sizes = [item(-step_size) for step_size, _ in sizes]
        bias_correction2_sqrts = [item(s) for _, s in sizes]
        if amsgrad:
            torch._foreach_maximum_(d_max, d_exp_avg_sqs)
        denom = torch._foreach_sqrt(d_max if amsgrad else d_exp_avg_sqs)
        torch._foreach_div_(denom, bias_correction2_sqrts)
        torch._foreach_add_(denom, item(eps))
        torch._foreach_addcdiv_(d_params, d_exp_avgs, denom, neg_step_sizes)


def _foreach_capturable_tail(
    d_params: list[Tensor],
    d_grads: list[Tensor],
    d_exp_avgs: list[Tensor],
    d_exp_avg_sqs: list[Tensor],
    d_max: list[Tensor],
    d_steps: list[Tensor],
    *,
    amsgrad: bool,
    beta1: float | Tensor,
    beta2: float | Tensor,
    lr: float | Tensor,
    eps: float,
) -> None:
    """Moments and step with ``step`` on the device: no host sync, safe under CUDA graphs.

    torch.optim's capturable branch, op for op: the step size is folded into the denominator,
    ``denom = -(1-b1^t)/lr * (sqrt(v)/sqrt(1-b2^t) + eps)``, then ``p += m / denom``.
    """
    device = d_params[0].device
    d_beta1 = beta1.to(device, non_blocking=True) if device_tensor(beta1) else beta1
    torch._foreach_lerp_(d_exp_avgs, d_grads, cast(float, 1 - d_beta1))
    torch._foreach_mul_(d_exp_avg_sqs, beta2)
    if isinstance(beta2, Tensor):  # foreach addcmul takes no tensor value
        scaled = list(torch._foreach_mul(d_grads, 1 - beta2))
        torch._foreach_addcmul_(d_exp_avg_sqs, scaled, d_grads, 1.0)
    else:
        torch._foreach_addcmul_(d_exp_avg_sqs, d_grads, d_grads, 1 - beta2)
    bias_correction1 = torch._foreach_pow(beta1, d_steps)  # type: ignore[arg-type]
    bias_correction2 = torch._foreach_pow(beta2, d_steps)  # type: ignore[arg-type]
    torch._foreach_sub_(bias_correction1, 1)
    torch._foreach_sub_(bias_correction2, 1)
    torch._foreach_neg_(bias_correction2)
    torch._foreach_div_(bias_correction1, lr)
    torch._foreach_reciprocal_(bias_correction1)  # -lr / (1 - b1^t)
    torch._foreach_sqrt_(bias_correction2)
    if amsgrad:
        torch._foreach_maximum_(d_max, d_exp_avg_sqs)
    denom = torch._foreach_sqrt(d_max if amsgrad else d_exp_avg_sqs)
    torch._foreach_div_(denom, bias_correction2)
    torch._foreach_add_(denom, eps)
    torch._foreach_div_(denom, bias_correction1)
    torch._foreach_addcdiv_(d_params, d_exp_avgs, denom)
