"""The std formulas of the variance-scaling family: Glorot/Xavier, He/Kaiming and LeCun.

All three draw zero-mean weights with ``Var(W) = gain^2 / fan`` and differ only in the fan (and
gain) they choose; Keras implements them as one ``VarianceScaling`` with fixed arguments. Each
function below is written in the same arithmetic order as ``torch.nn.init`` so that the std, and
hence the draws under one generator, are bit-identical to torch's.
"""

from __future__ import annotations

import math

__all__ = ["glorot_std", "he_std", "lecun_std", "uniform_bound"]

_SQRT_3 = math.sqrt(3.0)


def glorot_std(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural networks",
    AISTATS 2010: the compromise between keeping the forward (``1/fan_in``) and the backward
    (``1/fan_out``) variance, i.e. ``Var(W) = gain^2 / fan_avg``.
    """
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def he_std(fan: int, gain: float) -> float:
    """``std = gain / sqrt(fan)``; with ReLU's gain sqrt(2): ``Var(W) = 2 / fan_in``.

    He, Zhang, Ren & Sun, "Delving Deep into Rectifiers", ICCV 2015, eq. (10): a ReLU halves the
    second moment, so ``Var(W) = 2 / n_l`` keeps it constant through depth (n_l = fan_in; the
    backward version uses fan_out). The variance is ``2 / fan_in``, not ``2 / (fan_in - 1)``.
    """
    return gain / math.sqrt(fan)


def lecun_std(fan_in: int) -> float:
    """``std = 1 / sqrt(fan_in)``, i.e. ``Var(W) = 1 / fan_in``.

    LeCun, Bottou, Orr & Mueller, "Efficient BackProp", in *Neural Networks: Tricks of the Trade*,
    1998, sec. 4.6: unit-variance inputs give unit-variance pre-activations.
    """
    return 1 / math.sqrt(fan_in)


def uniform_bound(std: float) -> float:
    """``bound = sqrt(3) * std``: U(-bound, bound) has variance ``bound^2 / 3 = std^2``."""
    return _SQRT_3 * std
