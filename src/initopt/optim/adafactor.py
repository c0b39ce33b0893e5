r"""Adafactor (Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost"),
as ``torch.optim.Adafactor`` computes it: the same arguments, defaults, state keys and numbers.

For a parameter with :math:`\ge 2` dimensions, the second moment of the last two is kept as a row
factor :math:`R` (``row_var``, the mean of :math:`g^2` over the last dimension) and a column factor
:math:`C` (``col_var``, over the one before), :math:`O(A + B)` memory instead of :math:`O(AB)`:

.. math::
    \hat\beta_{2,t} = 1 - t^{\tau}, \qquad
    R_t = \mathrm{lerp}(R_{t-1}, \overline{g_t^2}^{\,\mathrm{row}}, 1-\hat\beta_{2,t}), \qquad
    C_t = \mathrm{lerp}(C_{t-1}, \overline{g_t^2}^{\,\mathrm{col}}, 1-\hat\beta_{2,t})

    \hat V_t = \frac{R_t C_t}{\max(\overline{R_t}, \epsilon_1)}, \qquad
    U_t = \frac{g_t}{\sqrt{\max(\hat V_t, \epsilon_1^2)}}

    \rho_t = \min(\gamma, 1/\sqrt t), \qquad
    \alpha_t = \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\,\rho_t, \qquad
    \theta_t = (1-\gamma\lambda)\,\theta_{t-1} - \frac{\alpha_t}{\max(1, \mathrm{RMS}(U_t)/d)}\,U_t

A vector keeps its full second moment :math:`V_t` (``variance``). :math:`\tau` is ``beta2_decay``
(-0.8), :math:`\epsilon_1` defaults to the dtype's machine epsilon, :math:`d` is the update clipping
threshold. As in torch, there is no first moment (the paper's :math:`\beta_1 = 0`), and
:math:`\alpha_t` is computed from the parameter before the weight decay of the step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .optimizer import BaseOptimizer, _get_scalar_dtype, to_scalar

__all__ = ["Adafactor", "adafactor_update_"]


def adafactor_update_(param: Tensor, grad: Tensor, state: dict[str, Tensor], *, lr: float | Tensor, beta2_decay: float,
                      eps1: float | None, eps2: float, d: float, weight_decay: float) -> None:
    """One Adafactor step of ``param`` in place, its ``state`` (``step``, and ``row_var`` / ``col_var``
    or ``variance``) updated; see the module for the formulas."""
    if eps1 is None:
        eps1 = torch.finfo(param.dtype).eps
    state["step"] += 1
    step = state["step"].item()
    one_minus_beta2 = step**beta2_decay
    rho = min(lr, 1 / (step**0.5))
    alpha = max(eps2, param.norm(2).item() / (param.numel() ** 0.5)) * rho
    if weight_decay != 0:
        param.mul_(1 - lr * weight_decay)
    if grad.dim() > 1:
        row_var, col_var = state["row_var"], state["col_var"]
        row_var.lerp_(torch.norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1)), one_minus_beta2)
        col_var.lerp_(torch.norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2)), one_minus_beta2)
        estimate = (row_var @ col_var).div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
    else:
        state["variance"].lerp_(grad * grad, one_minus_beta2)
        estimate = state["variance"].clone()
    update = estimate.clamp_(min=eps1 * eps1).rsqrt_().mul_(grad)
    clip = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
    param.add_(update, alpha=-alpha / clip)


def _check(lr: Any, beta2_decay: float, eps: tuple[float | None, float], d: float, weight_decay: float) -> None:
    """torch.optim.Adafactor's checks, with its messages."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if not 0.0 >= beta2_decay:
        raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
    if eps[0] is not None and not 0.0 <= eps[0]:
        raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
    if not 0.0 <= eps[1]:
        raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
    if not 1.0 <= d:
        raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")


class Adafactor(BaseOptimizer):
    """Adafactor with torch.optim.Adafactor's arguments and numbers; see the module. ``foreach`` is
    accepted for compatibility and steps tensor by tensor (the same numbers as torch's loop)."""

    group_defaults = {"foreach": None, "maximize": False}

    def __init__(self, params: Any, lr: float | Tensor = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        _check(lr, beta2_decay, eps, d, weight_decay)
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize}
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        _check(group["lr"], group["beta2_decay"], group["eps"], group["d"], group["weight_decay"])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            for p in group["params"]:
                p_state = self.state.get(p, {})
                if p_state and not torch.is_tensor(p_state["step"]):
                    p_state["step"] = torch.tensor(float(p_state["step"]), dtype=_get_scalar_dtype())

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            eps1, eps2 = group["eps"]
            lr = to_scalar(group["lr"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                if torch.is_complex(p):
                    raise RuntimeError("Adafactor does not support complex parameters")
                if p.grad.is_sparse:
                    raise RuntimeError("Adafactor does not support sparse gradients")
                state = self.state[p]
                if len(state) == 0:
                    _init_state(state, p.grad)
                grad = -p.grad if group["maximize"] else p.grad
                adafactor_update_(p, grad, state, lr=lr, beta2_decay=group["beta2_decay"], eps1=eps1, eps2=eps2,
                                  d=group["d"], weight_decay=group["weight_decay"])
        return loss


def _init_state(state: dict[str, Tensor], grad: Tensor) -> None:
    """``step`` on the host, and the factored (``row_var``, ``col_var``) or full (``variance``) moment."""
    state["step"] = torch.tensor(0.0, dtype=_get_scalar_dtype())
    if grad.dim() > 1:
        state["row_var"] = grad.new_zeros((*grad.shape[:-1], 1))
        state["col_var"] = grad.new_zeros((*grad.shape[:-2], 1, grad.shape[-1]))
    else:
        state["variance"] = torch.zeros_like(grad, memory_format=torch.preserve_format)
