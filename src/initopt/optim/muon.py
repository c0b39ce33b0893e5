r"""Muon: momentum orthogonalized by Newton-Schulz iterations, for the 2-D matrices of hidden layers
(Jordan et al. 2024, https://kellerjordan.github.io/posts/muon/; Liu et al. 2025, "Muon is Scalable
for LLM Training"), with AdamW for every other parameter in the same optimizer.

Per step, for a matrix :math:`\theta` of shape ``(A, B)`` with gradient :math:`g`:

.. math::
    B_t = \mu B_{t-1} + (1-\mu)\,g_t, \qquad
    U_t = \begin{cases} (1-\mu)\,g_t + \mu B_t & \text{nesterov} \\ B_t & \text{else} \end{cases}

    O_t = \mathrm{NS}_k(U_t), \qquad
    \theta_t = (1 - \gamma\lambda)\,\theta_{t-1} - \gamma\,r(A, B)\,O_t

:math:`\mathrm{NS}_k` is :func:`newton_schulz` (``k`` quintic iterations towards :math:`U V^\top` of
:math:`U_t = U S V^\top`, in bfloat16). The momentum is an exponential average (``lerp``), as
torch.optim.Muon computes it, although its docstring writes :math:`\mu B + g`: the two differ by the
factor :math:`1-\mu`, which the orthogonalization removes except through :math:`\varepsilon`. The ratio
:math:`r` (``adjust_lr_fn``): ``"original"`` (default) :math:`\sqrt{\max(1, A/B)}` (Jordan);
``"match_rms_adamw"`` :math:`0.2\sqrt{\max(A, B)}` (Liu et al.), which gives the update the RMS of an
AdamW update so that AdamW's learning rate and weight decay carry over. The weight decay uses the
unadjusted :math:`\gamma`.

:class:`Muon` equals ``torch.optim.Muon`` (every argument, the state key ``momentum_buffer``, state dicts
both ways, the error messages) for groups of 2-D matrices. A param group with ``use_muon=False``
is stepped by AdamW instead (Loshchilov & Hutter 2019, torch.optim.AdamW's arithmetic) with its
``adamw_betas`` and ``adamw_eps``: Muon is for hidden matrices, and embeddings, the output head,
biases and norms train with AdamW (Jordan's recipe). :func:`muon_param_groups` splits a model so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .adam import adam_moments_, adam_update_
from .decay import decoupled_decay_
from .optimizer import BaseOptimizer, _get_scalar_dtype, cast_like, is_host_scalar, to_scalar

__all__ = ["Muon", "muon_param_groups", "muon_lr_ratio", "newton_schulz"]

#: Jordan's quintic coefficients (a, b, c), chosen to steepen the iteration's slope at zero
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
EPS = 1e-7
ADJUST_LR_FNS = ("original", "match_rms_adamw")


def newton_schulz(update: Tensor, coefficients: Sequence[float] = NS_COEFFICIENTS, steps: int = NS_STEPS,
                  eps: float = EPS) -> Tensor:
    r"""The orthogonalization of ``update`` (``(A, B)``, or ``(K, A, B)`` stacked matrices, each alone),
    in bfloat16:

    .. math::
        X_0 = G / \max(\lVert G \rVert_F, \varepsilon), \qquad
        X_{j+1} = a X_j + (b\,M_j + c\,M_j^2)\,X_j, \quad M_j = X_j X_j^\top

    on the wide orientation (a tall matrix is transposed first and back at the end). The result is
    near :math:`U S' V^\top` with :math:`S'_{ii}` in about (0.5, 1.5) rather than exactly
    :math:`U V^\top` (Jordan 2024). A 2-D matrix goes through torch.optim.Muon's own operations.
    """
    if steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if update.dim() not in (2, 3):
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = coefficients
    tall = update.size(-2) > update.size(-1)
    x = update.bfloat16()
    if tall:
        x = x.mT
    if x.dim() == 2:
        x = x / x.norm().clamp(min=eps)
        for _ in range(steps):
            gram = x @ x.T
            x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    else:
        x = x / torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True).clamp(min=eps)
        for _ in range(steps):
            gram = x @ x.mT
            x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.mT if tall else x


def muon_lr_ratio(adjust_lr_fn: str | None, shape: Sequence[int]) -> float:
    """:math:`r(A, B)` for a matrix (or stacked matrices) of ``shape`` ``(..., A, B)``: see the module."""
    rows, cols = shape[-2], shape[-1]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return 1.0


def muon_momentum_(buffer: Tensor, grad: Tensor, momentum: float | Tensor, nesterov: bool) -> Tensor:
    """Update the momentum buffer in place; return the direction to orthogonalize (see the module)."""
    buffer.lerp_(grad, cast_like(1 - momentum, buffer))
    return grad.lerp(buffer, cast_like(momentum, grad)) if nesterov else buffer


def muon_update_(param: Tensor, direction: Tensor, *, lr: float | Tensor, weight_decay: float | Tensor,
                 adjust_lr_fn: str | None) -> None:
    r""":math:`\theta \leftarrow (1-\gamma\lambda)\theta - \gamma\, r\, O` for an orthogonalized ``direction`` O."""
    decoupled_decay_(param, lr, weight_decay)
    step = lr * muon_lr_ratio(adjust_lr_fn, param.shape)
    if is_host_scalar(step):
        param.add_(direction, alpha=-step)
    else:
        param.sub_(direction.to(param.dtype) * cast_like(step, param))  # in the parameter's dtype, not bfloat16


def _check_muon_arguments(lr: Any, momentum: Any, weight_decay: Any, adjust_lr_fn: Any) -> None:
    """torch.optim.Muon's checks, with its messages."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if not 0.0 <= momentum:
        raise ValueError(f"momentum should be >= 0 but is: {momentum}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
    if adjust_lr_fn is not None and adjust_lr_fn not in ADJUST_LR_FNS:
        raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")


class Muon(BaseOptimizer):
    """Muon for 2-D matrices (groups with ``use_muon=True``, the default), AdamW for groups with
    ``use_muon=False``; see the module for the update. Arguments, defaults and messages are
    torch.optim.Muon's; ``adamw_betas`` and ``adamw_eps`` are AdamW's ``betas`` and ``eps`` for the
    AdamW groups (their ``lr`` and ``weight_decay`` are the group's).

    Example:
        >>> opt = Muon(muon_param_groups(model), lr=1e-3, weight_decay=0.1,
        ...            adjust_lr_fn="match_rms_adamw")  # doctest: +SKIP
    """

    group_defaults = {"use_muon": True, "adamw_betas": (0.9, 0.999), "adamw_eps": 1e-8}

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
        eps: float = EPS,
        ns_steps: int = NS_STEPS,
        adjust_lr_fn: str | None = None,
        *,
        adamw_betas: tuple[float, float] = (0.9, 0.999),
        adamw_eps: float = 1e-8,
    ) -> None:
        _check_muon_arguments(lr, momentum, weight_decay, adjust_lr_fn)
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "nesterov": nesterov,
                    "ns_coefficients": ns_coefficients, "eps": eps, "ns_steps": ns_steps, "adjust_lr_fn": adjust_lr_fn,
                    "use_muon": True, "adamw_betas": adamw_betas, "adamw_eps": adamw_eps}
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        _check_muon_arguments(group["lr"], group["momentum"], group["weight_decay"], group["adjust_lr_fn"])
        if not group["use_muon"]:
            beta1, beta2 = group["adamw_betas"]
            for index, beta in enumerate((beta1, beta2)):
                if not 0.0 <= beta < 1.0:
                    raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
            if not 0.0 <= group["adamw_eps"]:
                raise ValueError(f"Invalid epsilon value: {group['adamw_eps']}")
            return
        for p in group["params"]:
            if p.ndim != 2:
                raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: {p.size()}")

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if group["use_muon"]:
                self._muon_group(group)
            else:
                self._adamw_group(group)
        return loss

    def _with_grads(self, group: dict[str, Any], name: str) -> list[Tensor]:
        params = []
        for p in group["params"]:
            if p.grad is None:
                continue
            if torch.is_complex(p):
                raise RuntimeError(f"{name} does not support complex parameters")
            if p.grad.is_sparse:
                raise RuntimeError(f"{name} does not support sparse gradients")
            params.append(p)
        return params

    def _muon_group(self, group: dict[str, Any]) -> None:
        lr = to_scalar(group["lr"])
        for p in self._with_grads(group, "Muon"):
            if p.grad.ndim != 2:
                raise ValueError("Param gradient must be a 2D matrix")
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p.grad, memory_format=torch.preserve_format)
            direction = muon_momentum_(state["momentum_buffer"], p.grad, group["momentum"], group["nesterov"])
            orthogonal = newton_schulz(direction, group["ns_coefficients"], group["ns_steps"], group["eps"])
            muon_update_(p, orthogonal, lr=lr, weight_decay=group["weight_decay"], adjust_lr_fn=group["adjust_lr_fn"])

    def _adamw_group(self, group: dict[str, Any]) -> None:
        beta1, beta2 = group["adamw_betas"]
        lr = to_scalar(group["lr"])
        for p in self._with_grads(group, "AdamW"):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = torch.tensor(0.0, dtype=_get_scalar_dtype())
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] += 1
            decoupled_decay_(p, lr, group["weight_decay"])
            adam_moments_(state["exp_avg"], state["exp_avg_sq"], p.grad, beta1, beta2)
            adam_update_(p, state["exp_avg"], state["exp_avg_sq"], lr=lr, beta1=beta1, beta2=beta2,
                         eps=group["adamw_eps"], step=state["step"].item())


def muon_param_groups(model: nn.Module, no_decay: Sequence[str] = ("bias", "norm")) -> list[dict[str, Any]]:
    """``model``'s trainable parameters as Muon's param groups: the 2-D matrices of hidden layers (roles
    weight and residual of :func:`initopt.init.parameter_roles`) with Muon; embeddings, the output
    head, biases, norms and convolution kernels (not 2-D) with AdamW (``use_muon=False``), those that
    :func:`initopt.optim.param_groups` exempts from decay (``no_decay``) with ``weight_decay=0``.
    Empty groups are left out; lr and weight decay come from the optimizer's arguments."""
    from initopt.init.apply import parameter_roles
    from initopt.init.roles import Role

    from .groups import decayed_names

    roles = parameter_roles(model)
    decayed = decayed_names(model, no_decay)
    hidden, adamw, adamw_no_decay = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim == 2 and roles.get(name) in (Role.WEIGHT, Role.RESIDUAL):
            hidden.append(p)
        else:
            (adamw if decayed.get(name, True) else adamw_no_decay).append(p)
    groups = [{"params": hidden, "use_muon": True}, {"params": adamw, "use_muon": False},
              {"params": adamw_no_decay, "use_muon": False, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]
