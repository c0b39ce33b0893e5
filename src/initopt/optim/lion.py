r"""Lion, "EvoLved Sign Momentum" (Chen et al. 2023, "Symbolic Discovery of Optimization
Algorithms", NeurIPS; arXiv:2302.06675), with the numerics of ``lion-pytorch``.

.. math::
    c_t &= \beta_1 m_{t-1} + (1-\beta_1)\,g_t\\
    \theta_t &= \theta_{t-1}\,(1 - \gamma_t\lambda) - \gamma_t\,\mathrm{sign}(c_t)\\
    m_t &= \beta_2 m_{t-1} + (1-\beta_2)\,g_t

Every coordinate moves by exactly :math:`\pm\gamma` (or 0), so the update is larger than
Adam's for the same lr: the paper uses an lr 3-10x smaller and a weight decay 3-10x larger than
AdamW's (which keeps :math:`\gamma\lambda` about the same). Only one buffer, :math:`m`
(state key ``exp_avg`` as in ``lion-pytorch``), and no ``step``.

Layout as in :mod:`initopt.optim.sgd`: the class gathers params, grads and state and calls
:func:`lion`, a per-tensor loop over the pure update :func:`lion_update_`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.optim.optimizer import ParamsT

from .decay import DECAY_MODES, decoupled_decay_, effective_weight_decay
from .optimizer import (
    BaseOptimizer,
    axpy_,
    cast_like,
    check_beta,
    check_choice,
    check_nonnegative,
    invalid,
    is_host_scalar,
    item,
    to_scalar,
)

__all__ = ["Lion", "lion", "lion_direction", "lion_momentum_", "lion_update_"]


# --------------------------------------------------------------------------------------------
# Pure math. Hyperparameters: Python numbers, 0-dim tensors, or tensors broadcastable against
# the parameter (e.g. shape (K, 1) for K stacked configurations of a (K, n) parameter).
# --------------------------------------------------------------------------------------------
def lion_direction(exp_avg: Tensor, grad: Tensor, beta1: float | Tensor) -> Tensor:
    r"""The update direction :math:`\mathrm{sign}(\beta_1 m + (1-\beta_1) g)` (a new tensor).

    The interpolation is computed as ``(m * beta1).add(g, alpha=1 - beta1)``, the ops of
    ``lion-pytorch``: where :math:`c` is near 0 its sign depends on the rounding, so the same
    ops give the same signs (``lerp`` would not).
    """
    interpolated = exp_avg * cast_like(beta1, exp_avg)
    return axpy_(interpolated, grad, 1 - beta1).sign_()


def lion_momentum_(exp_avg: Tensor, grad: Tensor, beta2: float | Tensor) -> Tensor:
    r"""Lion's momentum in place: :math:`m \leftarrow \beta_2 m + (1-\beta_2) g`.

    Updated *after* the step with the second coefficient :math:`\beta_2`, so the step sees the
    gradient with weight :math:`1-\beta_1` and the buffer with :math:`1-\beta_2` (Chen et al.
    2023, Program 1).
    """
    exp_avg.mul_(cast_like(beta2, exp_avg))
    return axpy_(exp_avg, grad, 1 - beta2)


def lion_update_(
    param: Tensor,
    grad: Tensor,
    exp_avg: Tensor,
    *,
    lr: float | Tensor,
    beta1: float | Tensor,
    beta2: float | Tensor,
    weight_decay: float | Tensor,
) -> None:
    r"""One Lion step in place on ``param`` and ``exp_avg``:

    .. math::
        \theta \leftarrow \theta\,(1-\gamma\lambda)
            - \gamma\,\mathrm{sign}\big(\beta_1 m + (1-\beta_1) g\big), \qquad
        m \leftarrow \beta_2 m + (1-\beta_2) g

    The decay is decoupled and lr-coupled, as in ``lion-pytorch`` and the paper; for
    ``decay="independent"`` pass ``weight_decay / initial_lr`` (see
    :func:`initopt.optim.decay.effective_weight_decay`). Call under ``torch.no_grad()``.

    Example (K stacked configurations, per-row lr):
        >>> p, m = torch.zeros(3, 5), torch.zeros(3, 5)  # doctest: +SKIP
        >>> lr = torch.tensor([[1e-4], [3e-4], [1e-3]], dtype=torch.float64)  # doctest: +SKIP
        >>> lion_update_(p, torch.randn(3, 5), m, lr=lr, beta1=0.9, beta2=0.99,
        ...              weight_decay=0.0)  # doctest: +SKIP
    """
    if not (is_host_scalar(weight_decay) and weight_decay == 0):
        decoupled_decay_(param, lr, weight_decay)
    axpy_(param, lion_direction(exp_avg, grad, beta1), -lr)
    lion_momentum_(exp_avg, grad, beta2)


# --------------------------------------------------------------------------------------------
# Class
# --------------------------------------------------------------------------------------------
class Lion(BaseOptimizer):
    r"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), numerically
    identical to ``lion_pytorch.Lion`` (its PyTorch path).

    .. math::
        \theta_t &\leftarrow \theta_{t-1}\,(1 - \gamma_t\lambda)
            - \gamma_t\,\mathrm{sign}\big(\beta_1 m_{t-1} + (1-\beta_1) g_t\big)\\
        m_t &\leftarrow \beta_2 m_{t-1} + (1-\beta_2) g_t

    With ``decay="independent"`` the decay factor is :math:`1 - \lambda\gamma_t/\gamma_0`
    (:mod:`initopt.optim.decay`; what ``lion_pytorch.Lion(decoupled_weight_decay=True)``
    computes).

    Args:
        params: parameters, named parameters, or param-group dicts.
        lr: :math:`\gamma \ge 0` (float or 1-element tensor; default 1e-4, as lion-pytorch).
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1) (default (0.9, 0.99)).
        weight_decay: :math:`\lambda \ge 0`, decoupled (default 0).
        maximize: ascend instead of descend (default False).
        decay: ``"coupled"`` (strength :math:`\gamma_t\lambda`, the paper's) or ``"independent"``
            (strength :math:`\lambda\gamma_t/\gamma_0`, :math:`\gamma_0` the group's
            ``initial_lr``); see :mod:`initopt.optim.decay`.

    State per parameter: ``exp_avg`` (:math:`m`), as lion-pytorch, so checkpoints interchange.

    Example:
        >>> opt = Lion(model.parameters(), lr=1e-4, weight_decay=1.0)  # AdamW: 1e-3, 0.1  # doctest: +SKIP
    """

    group_defaults = {"maximize": False, "decay": "coupled"}

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-4,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.99),
        weight_decay: float | Tensor = 0.0,
        *,
        maximize: bool = False,
        decay: str = "coupled",
    ) -> None:
        if isinstance(betas, (tuple, list)) and len(betas) == 2:
            betas = (to_scalar(betas[0]), to_scalar(betas[1]))
        defaults = {
            "lr": lr,
            "betas": betas,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "decay": decay,
        }
        self.check_group(defaults)
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        """``ValueError`` for lr or weight_decay < 0, betas outside [0, 1) (torch.optim's checks
        and texts, in Adam's order), or an unknown ``decay``."""
        check_nonnegative("lr", group["lr"])
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise invalid("betas", betas, "must be a pair (beta1, beta2)")
        check_beta(0, betas[0])
        check_beta(1, betas[1])
        check_nonnegative("weight_decay", group["weight_decay"])
        check_choice("decay", group["decay"], DECAY_MODES)

    def complete_group(self, group: dict[str, Any]) -> None:
        """Independent decay: keep the lr at construction as ``initial_lr`` (as AdamW does)."""
        if group["decay"] != "independent":
            return
        initial_lr = group.setdefault("initial_lr", item(group["lr"]))  # LR schedulers: same key
        if not initial_lr > 0:
            raise invalid(
                "initial_lr", initial_lr,
                "decay='independent' decays by weight_decay * lr / initial_lr, so initial_lr must be > 0",
            )  # fmt: skip

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError("Lion does not support sparse gradients")
                if "exp_avg" not in self.state[p]:
                    self.state[p]["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            beta1, beta2 = group["betas"]
            lion(
                params,
                [p.grad for p in params],
                [self.state[p]["exp_avg"] for p in params],
                lr=to_scalar(group["lr"]),
                beta1=beta1,
                beta2=beta2,
                weight_decay=effective_weight_decay(group),
                maximize=group["maximize"],
            )
        return loss


# --------------------------------------------------------------------------------------------
# Functional API
# --------------------------------------------------------------------------------------------
def lion(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    *,
    lr: float | Tensor,
    beta1: float | Tensor,
    beta2: float | Tensor,
    weight_decay: float | Tensor,
    maximize: bool,
) -> None:
    """Functional Lion: one step over lists of tensors, one :func:`lion_update_` per tensor.

    ``weight_decay`` is used as given; the class passes
    :func:`initopt.optim.decay.effective_weight_decay`.
    """
    for param, grad, exp_avg in zip(params, grads, exp_avgs, strict=True):
        lion_update_(
            param, -grad if maximize else grad, exp_avg,
            lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay,
        )  # fmt: skip
