r"""Weight decay: L2 in the gradient, decoupled (lr-coupled, PyTorch's AdamW), independent.

Three rules shrink the weights towards zero; they differ in where the shrinking enters.

* **L2** (``torch.optim.Adam(weight_decay=...)``, ``SGD``): add :math:`\lambda\theta` to the
  gradient, :math:`g \leftarrow g + \lambda\theta`. With SGD this *is* weight decay; with Adam
  the decay term is divided by :math:`\sqrt{\hat v}` like the gradient, so weights with large
  gradients are decayed less (Loshchilov & Hutter 2019, "Decoupled Weight Decay
  Regularization", ICLR).
* **decoupled, lr-coupled** (``decay="coupled"``, the default; ``torch.optim.AdamW``):
  :math:`\theta \leftarrow \theta\,(1 - \gamma_t\lambda)`, applied to the weights before the Adam
  step. The decay no longer passes through Adam's normaliser, but its strength is
  :math:`\gamma_t\lambda`: changing the base lr changes the decay too, so the best
  ``weight_decay`` moves whenever the best ``lr`` moves.
* **independent** (``decay="independent"``; Loshchilov & Hutter 2019's "fully decoupled" form,
  ``decouple_lr`` in optimi): :math:`\theta \leftarrow \theta\,(1 - \lambda\,\gamma_t/\gamma_0)`
  with :math:`\gamma_0` the group's ``initial_lr``. The decay still follows the *schedule*
  :math:`\gamma_t/\gamma_0` (warm-up, cosine) but not the base lr, so ``lr`` and
  ``weight_decay`` can be tuned separately -- the reason initopt, which measures both, offers
  it. A value carries over as ``weight_decay_independent = lr0 * weight_decay_coupled``; typical
  values are therefore much smaller (1e-5..1e-3) than AdamW's 1e-2..1e-1.

The independent rule is the coupled one with :math:`\lambda' = \lambda/\gamma_0`, since
:math:`\gamma_t\lambda' = \lambda\gamma_t/\gamma_0`; that is how every path (per-tensor, foreach,
fused kernels) implements it: :func:`effective_weight_decay` is the only place that knows the
difference.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .optimizer import axpy, cast_like

__all__ = ["DECAY_MODES", "decoupled_decay_", "effective_weight_decay", "l2_grad"]

#: the values of ``decay=``: lr-coupled (PyTorch's AdamW) or independent of the base lr
DECAY_MODES: tuple[str, ...] = ("coupled", "independent")


def l2_grad(grad: Tensor, param: Tensor, weight_decay: float | Tensor) -> Tensor:
    r"""L2 penalty folded into the gradient: :math:`g + \lambda\theta` (a new tensor).

    ``weight_decay`` is a number or a tensor broadcastable against ``param``.
    Computed as ``grad.add(param, alpha=weight_decay)``, the op ``torch.optim`` uses. A tensor
    ``weight_decay`` that requires grad makes autograd keep ``param`` (for
    :math:`\partial/\partial\lambda`), so a differentiable step passes a copy: it updates the
    parameter in place right after.
    """
    return axpy(grad, param, weight_decay)


def decoupled_decay_(param: Tensor, lr: float | Tensor, weight_decay: float | Tensor) -> Tensor:
    r"""Decoupled weight decay in place: :math:`\theta \leftarrow \theta\,(1 - \gamma\lambda)`.

    Loshchilov & Hutter 2019, Algorithm 2, line 12, with :math:`\eta_t\lambda` written as
    PyTorch writes it, ``lr * weight_decay``. For ``decay="independent"`` pass
    ``weight_decay / initial_lr`` (see :func:`effective_weight_decay`). ``lr`` and
    ``weight_decay`` are numbers or tensors broadcastable against ``param``.
    """
    return param.mul_(cast_like(1 - lr * weight_decay, param))


def effective_weight_decay(group: dict[str, Any]) -> float | Tensor:
    r"""The ``weight_decay`` to hand to the lr-coupled rule for this param group.

    ``decay="coupled"``: the group's ``weight_decay``, :math:`\lambda`.
    ``decay="independent"``: :math:`\lambda/\gamma_0` with :math:`\gamma_0` the group's
    ``initial_lr`` (set by torch LR schedulers, or by our constructor to the lr at construction),
    so that the step applies :math:`\theta(1 - \lambda\gamma_t/\gamma_0)`.
    """
    weight_decay = group["weight_decay"]
    if group.get("decay", "coupled") == "independent" and weight_decay != 0:
        return weight_decay / group["initial_lr"]
    return weight_decay
