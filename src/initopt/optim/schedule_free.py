r"""Schedule-Free AdamW (Defazio et al. 2024, "The Road Less Scheduled", NeurIPS;
arXiv:2405.15682), with the numerics, names and state of ``schedulefree.AdamWScheduleFree``.

No lr schedule: the iterate the gradient is taken at, :math:`y`, interpolates between a plain
AdamW-like sequence :math:`z` and a running average :math:`x` of it, and :math:`x` is the model
to evaluate. With :math:`k` the group's step count (0-based, :math:`t = k+1`):

.. math::
    y_t &= (1-\beta_1)\,z_t + \beta_1\,x_t
        \qquad (\text{gradient } g_t \text{ taken at } y_t)\\
    v_t &= \beta_2 v_{t-1} + (1-\beta_2)\,g_t^2, \qquad
    \gamma_t = \gamma\,\min\!\big(1, t/T_{warmup}\big)\\
    d_t &= \frac{g_t}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon} + \lambda\,y_t\\
    z_{t+1} &= z_t - \gamma_t\,d_t\\
    x_{t+1} &= (1-c_{t+1})\,x_t + c_{t+1}\,z_{t+1}, \qquad
    c_{t+1} = \frac{w_t}{\sum_{i\le t} w_i}, \quad
    w_t = t^{\,r}\,\big(\max_{i\le t}\gamma_i\big)^{p}

:math:`p` is ``weight_lr_power`` (2: warm-up steps, with small lr, count less in the average);
with :math:`r = p = 0`, :math:`c_{t+1} = 1/t` and :math:`x` is the plain average of the
:math:`z`. The weight decay :math:`\lambda y_t` is added to the normalised gradient at
:math:`y` (decoupled from :math:`v`, as AdamW). There is no first moment :math:`m`: the
interpolation with :math:`\beta_1` plays its part.

Only :math:`y` (the parameters, in train mode) and :math:`z` (state key ``z``) are stored;
:math:`x` is recovered as :math:`(y - (1-\beta_1) z)/\beta_1` by :meth:`ScheduleFreeAdamW.eval`
and :math:`y` again by :meth:`ScheduleFreeAdamW.train`. The step updates :math:`y` in place as

.. math::
    y \leftarrow (1-c)\,y + c\,z + \gamma_t\big(\beta_1(1-c) - 1\big)\,d, \qquad
    z \leftarrow z - \gamma_t d

(the same :math:`y_{t+1}` as above, by substitution). Layout as in :mod:`initopt.optim.adam`:
the class gathers params, grads and state and calls :func:`schedule_free_adamw`, which
dispatches to :func:`_single_tensor_schedule_free_adamw` (built from the pure functions below)
or :func:`_multi_tensor_schedule_free_adamw` (``torch._foreach_*``).
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import torch
from torch import Tensor
from torch.optim.optimizer import ParamsT

from .optimizer import (
    BaseOptimizer,
    check_beta,
    check_nonnegative,
    invalid,
    item,
    to_scalar,
)
from .paths import step_path

__all__ = [
    "ScheduleFreeAdamW",
    "ScheduleFreeScalars",
    "schedule_free_adamw",
    "schedule_free_direction",
    "schedule_free_scalars",
    "schedule_free_update_",
    "x_from_y_",
    "y_from_x_",
]

#: the error of ``step()`` in eval mode (the reference raises a bare ``Exception``)
EVAL_MODE_MESSAGE = (
    "ScheduleFreeAdamW.step() called in eval mode: call optimizer.train() before training "
    "steps and optimizer.eval() before evaluating or saving (the parameters hold y while "
    "training and the average x while evaluating)"
)


# --------------------------------------------------------------------------------------------
# Pure math
# --------------------------------------------------------------------------------------------
class ScheduleFreeScalars(NamedTuple):
    """One step's scalars: the warmed-up lr, the running max lr, the weight sum, :math:`c_{t+1}`."""

    lr: float
    lr_max: float
    weight_sum: float
    ckp1: float


def schedule_free_scalars(
    k: int,
    *,
    lr: float,
    lr_max: float,
    weight_sum: float,
    warmup_steps: int,
    r: float,
    weight_lr_power: float,
) -> ScheduleFreeScalars:
    r"""The scalars of step :math:`t = k+1` from the group's running ones:

    .. math::
        \gamma_t = \gamma\,\min(1, t/T_{warmup}), \quad
        \gamma^{max}_t = \max(\gamma^{max}_{t-1}, \gamma_t), \quad
        w_t = t^r\,(\gamma^{max}_t)^p, \quad
        c_{t+1} = \frac{w_t}{\sum_{i\le t} w_i}

    :math:`c_{t+1} = 0` while the weights sum to 0 (lr 0). Python floats, computed as
    ``schedulefree`` computes them (its state starts from ``lr_max=-1``, ``weight_sum=0``).
    """
    warmed_lr = lr * ((k + 1) / warmup_steps if k < warmup_steps else 1.0)
    lr_max = max(warmed_lr, lr_max)
    weight = ((k + 1) ** r) * (lr_max**weight_lr_power)
    weight_sum = weight_sum + weight
    ckp1 = weight / weight_sum if weight_sum != 0 else 0.0
    return ScheduleFreeScalars(warmed_lr, lr_max, weight_sum, ckp1)


def schedule_free_direction(
    grad: Tensor,
    exp_avg_sq: Tensor,
    param: Tensor,
    *,
    beta2: float,
    eps: float,
    bias_correction2: float,
    weight_decay: float,
) -> Tensor:
    r"""Update :math:`v` in place and return the step direction (a new tensor; ``grad`` is kept):

    .. math::
        v \leftarrow \beta_2 v + (1-\beta_2) g^2, \qquad
        d = \frac{g}{\sqrt{v / (1-\beta_2^t)} + \epsilon} + \lambda y

    :math:`\epsilon` outside the square root, after the bias correction (as Adam in PyTorch).
    ``param`` is :math:`y`. No bias correction of a first moment: there is none.
    """
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = exp_avg_sq.div(bias_correction2).sqrt_().add_(eps)
    direction = grad.div(denom)
    if weight_decay != 0:
        direction.add_(param, alpha=weight_decay)
    return direction


def schedule_free_update_(
    param: Tensor, z: Tensor, direction: Tensor, *, lr: float, beta1: float, ckp1: float
) -> None:
    r"""Advance :math:`y` (``param``) and :math:`z` in place along ``direction`` :math:`d`:

    .. math::
        y \leftarrow (1-c)\,y + c\,z + \gamma\big(\beta_1(1-c) - 1\big)\,d, \qquad
        z \leftarrow z - \gamma d

    i.e. :math:`z_{t+1} = z_t - \gamma d`, :math:`x_{t+1} = (1-c) x_t + c z_{t+1}` and
    :math:`y_{t+1} = (1-\beta_1) z_{t+1} + \beta_1 x_{t+1}` without storing :math:`x`.
    """
    param.lerp_(z, ckp1)
    param.add_(direction, alpha=lr * (beta1 * (1 - ckp1) - 1))
    z.sub_(direction, alpha=lr)


def x_from_y_(param: Tensor, z: Tensor, beta1: float) -> Tensor:
    r""":math:`x = (y - (1-\beta_1) z)/\beta_1` in place, as ``y.lerp_(z, 1 - 1/beta1)``."""
    return param.lerp_(z.to(param.device), 1 - 1 / beta1)


def y_from_x_(param: Tensor, z: Tensor, beta1: float) -> Tensor:
    r""":math:`y = \beta_1 x + (1-\beta_1) z` in place, as ``x.lerp_(z, 1 - beta1)``."""
    return param.lerp_(z.to(param.device), 1 - beta1)


# --------------------------------------------------------------------------------------------
# Class
# --------------------------------------------------------------------------------------------
class ScheduleFreeAdamW(BaseOptimizer):
    r"""Schedule-Free AdamW (Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky 2024, "The Road
    Less Scheduled"), numerically identical to ``schedulefree.AdamWScheduleFree``: same
    arguments, defaults, param-group keys and state keys, so state dicts load both ways.

    .. math::
        y_t = (1-\beta_1) z_t + \beta_1 x_t, \quad
        z_{t+1} = z_t - \gamma_t\Big(\frac{g(y_t)}{\sqrt{\hat v_t}+\epsilon} + \lambda y_t\Big),
        \quad x_{t+1} = (1-c_{t+1}) x_t + c_{t+1} z_{t+1}

    with :math:`c_{t+1} = w_t/\sum_{i\le t} w_i`, :math:`w_t = t^r (\max_{i\le t}\gamma_i)^p`
    (the module docstring has every step). Use it without an lr schedule; ``warmup_steps``
    gives a linear warm-up.

    Train and eval mode, as the reference: the optimizer starts in *eval* mode and ``step()``
    raises until :meth:`train` is called; :meth:`train` puts :math:`y` in the parameters,
    :meth:`eval` the average :math:`x` (call it before evaluating and before saving a
    checkpoint). :attr:`train_mode` tells which; each group keeps it as ``train_mode``.

    Args (names, order and defaults of ``schedulefree.AdamWScheduleFree``):
        params: parameters, named parameters, or param-group dicts.
        lr: :math:`\gamma \ge 0` (default 0.0025).
        betas: :math:`(\beta_1, \beta_2)`; :math:`\beta_1` in (0, 1) (:meth:`eval` divides by
            it), :math:`\beta_2` in [0, 1) (default (0.9, 0.999)).
        eps: :math:`\epsilon \ge 0` (default 1e-8).
        weight_decay: :math:`\lambda \ge 0`, applied at :math:`y` (default 0).
        warmup_steps: :math:`T_{warmup} \ge 0`, linear lr warm-up (default 0).
        r: :math:`r \ge 0`, polynomial weighting of the average (default 0).
        weight_lr_power: :math:`p \ge 0` (default 2).
        foreach: ``torch._foreach_*`` over the group (default None: as torch.optim, on CUDA).
            The reference's default is True; both paths give the same numbers on the CPU.

    Param-group keys (the reference's): ``k`` (steps taken), ``train_mode``, ``weight_sum``,
    ``lr_max``, ``scheduled_lr`` (:math:`\gamma_t` of the last step). State per parameter:
    ``z``, ``exp_avg_sq``. Unlike the reference, ``p.grad`` is left unchanged, and a group
    added after :meth:`train` starts in train mode.

    Example:
        >>> opt = ScheduleFreeAdamW(model.parameters(), lr=1e-3, warmup_steps=100)  # doctest: +SKIP
        >>> opt.train()  # then loss.backward(); opt.step() as usual  # doctest: +SKIP
        >>> opt.eval()  # before evaluating or saving: the parameters hold x  # doctest: +SKIP
    """

    group_defaults = {"scheduled_lr": 0.0, "foreach": None}

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 0.0025,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        foreach: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "r": r,
            "k": 0,
            "warmup_steps": warmup_steps,
            "train_mode": False,
            "weight_sum": 0.0,
            "lr_max": -1.0,
            "scheduled_lr": 0.0,
            "weight_lr_power": weight_lr_power,
            "weight_decay": weight_decay,
            "foreach": foreach,
        }
        self.check_group(defaults)
        super().__init__(params, defaults)

    @property
    def train_mode(self) -> bool:
        """True after :meth:`train` (parameters hold :math:`y`), False after :meth:`eval` (:math:`x`)."""
        return all(group["train_mode"] for group in self.param_groups)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """As torch.optim, checked; a group added later starts in the optimizer's current mode."""
        if self.param_groups:
            param_group.setdefault("train_mode", self.param_groups[0]["train_mode"])
        super().add_param_group(param_group)

    def check_group(self, group: dict[str, Any]) -> None:
        """``ValueError`` for a negative lr, eps, weight_decay, warmup_steps, r or weight_lr_power,
        or betas outside (0, 1) x [0, 1) (torch.optim's texts, in Adam's order, then the rest)."""
        check_nonnegative("lr", group["lr"])
        check_nonnegative("eps", group["eps"])
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise invalid("betas", betas, "must be a pair (beta1, beta2)")
        check_beta(0, betas[0])
        if betas[0] == 0:
            raise ValueError(
                f"Invalid beta parameter at index 0: {betas[0]} (must be > 0: eval() recovers "
                "x = (y - (1 - beta1) z) / beta1)"
            )
        check_beta(1, betas[1])
        check_nonnegative("weight_decay", group["weight_decay"])
        for name in ("warmup_steps", "r", "weight_lr_power"):
            check_nonnegative(name, group[name])

    @torch.no_grad()
    def eval(self) -> None:
        """Put the average :math:`x` in the parameters (for evaluation and checkpoints)."""
        for group in self.param_groups:
            if group["train_mode"]:
                for p in self._params_with_state(group):
                    x_from_y_(p, self.state[p]["z"], group["betas"][0])
                group["train_mode"] = False

    @torch.no_grad()
    def train(self) -> None:
        """Put the gradient point :math:`y` in the parameters (before training steps)."""
        for group in self.param_groups:
            if not group["train_mode"]:
                for p in self._params_with_state(group):
                    y_from_x_(p, self.state[p]["z"], group["betas"][0])
                group["train_mode"] = True

    def _params_with_state(self, group: dict[str, Any]) -> list[Tensor]:
        return [p for p in group["params"] if "z" in self.state.get(p, {})]

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One step at :math:`y`; ``closure`` re-evaluates the model and returns the loss.

        Raises ``RuntimeError`` in eval mode (the reference raises ``Exception``).
        """
        if not self.train_mode:
            raise RuntimeError(EVAL_MODE_MESSAGE)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            k = group["k"]
            scalars = schedule_free_scalars(
                k, lr=item(to_scalar(group["lr"])), lr_max=group["lr_max"],
                weight_sum=group["weight_sum"], warmup_steps=group["warmup_steps"],
                r=group["r"], weight_lr_power=group["weight_lr_power"],
            )  # fmt: skip
            group["scheduled_lr"] = scalars.lr
            group["lr_max"] = scalars.lr_max
            group["weight_sum"] = scalars.weight_sum
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError("ScheduleFreeAdamW does not support sparse gradients")
                state = self.state[p]
                if "z" not in state:
                    state["z"] = torch.clone(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            beta1, beta2 = group["betas"]
            schedule_free_adamw(
                params,
                [p.grad for p in params],
                [self.state[p]["z"] for p in params],
                [self.state[p]["exp_avg_sq"] for p in params],
                lr=scalars.lr,
                beta1=beta1,
                beta2=beta2,
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                bias_correction2=1 - beta2 ** (k + 1),
                ckp1=scalars.ckp1,
                foreach=group["foreach"],
            )
            group["k"] = k + 1
        return loss


# --------------------------------------------------------------------------------------------
# Functional API and its two paths
# --------------------------------------------------------------------------------------------
def schedule_free_adamw(
    params: list[Tensor],
    grads: list[Tensor],
    zs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    bias_correction2: float,
    ckp1: float,
    foreach: bool | None = None,
) -> None:
    """Functional Schedule-Free AdamW: one step over lists, given the step's scalars
    (:func:`schedule_free_scalars`, ``bias_correction2`` :math:`= 1-\\beta_2^t`)."""
    path = step_path(params, foreach=foreach, fused=None, differentiable=False).path
    func = _multi_tensor_schedule_free_adamw if path == "foreach" else _single_tensor_schedule_free_adamw
    func(
        params, grads, zs, exp_avg_sqs, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
        weight_decay=weight_decay, bias_correction2=bias_correction2, ckp1=ckp1,
    )  # fmt: skip


def _single_tensor_schedule_free_adamw(
    params: list[Tensor],
    grads: list[Tensor],
    zs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    bias_correction2: float,
    ckp1: float,
) -> None:
    """Reference path: the paper's step, one tensor at a time."""
    for param, grad, z, exp_avg_sq in zip(params, grads, zs, exp_avg_sqs, strict=True):
        direction = schedule_free_direction(
            grad, exp_avg_sq, param, beta2=beta2, eps=eps,
            bias_correction2=bias_correction2, weight_decay=weight_decay,
        )  # fmt: skip
        schedule_free_update_(param, z, direction, lr=lr, beta1=beta1, ckp1=ckp1)


def _multi_tensor_schedule_free_adamw(
    params: list[Tensor],
    grads: list[Tensor],
    zs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    bias_correction2: float,
    ckp1: float,
) -> None:
    """Foreach path: the ops of :func:`_single_tensor_schedule_free_adamw` over lists per
    device and dtype (the reference's foreach branch, without overwriting ``p.grad``)."""
    if not params:
        return
    groups = torch.optim.Optimizer._group_tensors_by_device_and_dtype(
        [params, grads, zs, exp_avg_sqs]  # type: ignore[list-item]
    )
    for (d_params_, d_grads_, d_zs_, d_exp_avg_sqs_), _ in groups.values():
        d_params, d_grads = cast(list[Tensor], d_params_), cast(list[Tensor], d_grads_)
        d_zs, d_exp_avg_sqs = cast(list[Tensor], d_zs_), cast(list[Tensor], d_exp_avg_sqs_)
        torch._foreach_mul_(d_exp_avg_sqs, beta2)
        torch._foreach_addcmul_(d_exp_avg_sqs, d_grads, d_grads, value=1 - beta2)
        denom = torch._foreach_div(d_exp_avg_sqs, bias_correction2)
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, eps)
        directions = torch._foreach_div(d_grads, denom)
        del denom
        if weight_decay != 0:
            torch._foreach_add_(directions, d_params, alpha=weight_decay)
        torch._foreach_lerp_(d_params, d_zs, weight=ckp1)
        torch._foreach_add_(d_params, directions, alpha=lr * (beta1 * (1 - ckp1) - 1))
        torch._foreach_sub_(d_zs, directions, alpha=lr)
