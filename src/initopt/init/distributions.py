"""The distribution a scheme draws from: its mean, std and central intervals, computed exactly.

Every scheme reports a :class:`Distribution` record for given fans; ``Scheme.std`` and ``explain``
read the numbers from it. The math is a handful of pure functions with their formulas; the
truncated-normal moments are the standard ones (Johnson, Kotz & Balakrishnan, *Continuous
Univariate Distributions*, vol. 1, 2nd ed., 1994, ch. 13).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "COVERAGE_99_7",
    "Distribution",
    "Kind",
    "normal_interval",
    "truncated_normal_moments",
    "truncated_normal_quantile",
    "uniform_interval",
]

_STANDARD_NORMAL = NormalDist()
#: The share of weights the "99.7%" interval holds. We use this exact share, so for a normal the
#: half-width is inv_cdf(0.9985) = 2.9677 std (the "3 sigma" rule holds 99.73%, half-width 3 std).
COVERAGE_99_7 = 0.997


class Kind(str, enum.Enum):
    """The family of a :class:`Distribution`; decides how its intervals are computed."""

    POINT = "point"  # every weight equals ``mean`` (zeros, constant)
    NORMAL = "normal"
    UNIFORM = "uniform"  # U(low, high)
    TRUNCATED_NORMAL = "truncated_normal"  # N(loc, scale^2) restricted to [low, high]
    BERNOULLI = "bernoulli"  # values 0 and 1, P(1) = mean (identity, dirac)


@dataclass(frozen=True)
class Distribution:
    """Law of one weight entry.

    ``mean``/``std`` are the moments of the weights themselves; ``low``/``high`` the hard limits
    (None when unbounded); ``loc``/``scale`` the parent normal's parameters for a truncated normal.
    ``approximate`` marks a distribution that only approximates the drawn weights (orthogonal
    matrices: exact variance, near-normal entries).
    """

    kind: Kind
    mean: float
    std: float
    low: float | None = None
    high: float | None = None
    loc: float | None = None
    scale: float | None = None
    approximate: bool = False

    def interval(self, coverage: float = COVERAGE_99_7) -> tuple[float, float]:
        """The central interval holding ``coverage`` of the weights (equal tails)."""
        if not 0.0 < coverage < 1.0:
            raise ValueError(f"coverage must be in (0, 1); got {coverage!r}")
        if self.kind is Kind.POINT:
            return (self.mean, self.mean)
        if self.kind is Kind.NORMAL:
            return normal_interval(self.mean, self.std, coverage)
        if self.kind is Kind.UNIFORM:
            assert self.low is not None and self.high is not None
            return uniform_interval(self.low, self.high, coverage)
        if self.kind is Kind.TRUNCATED_NORMAL:
            assert None not in (self.loc, self.scale, self.low, self.high)
            tail = (1.0 - coverage) / 2
            return (
                truncated_normal_quantile(tail, self.loc, self.scale, self.low, self.high),  # type: ignore[arg-type]
                truncated_normal_quantile(1.0 - tail, self.loc, self.scale, self.low, self.high),  # type: ignore[arg-type]
            )
        return bernoulli_interval(self.mean, coverage)


def normal_interval(mean: float, std: float, coverage: float = COVERAGE_99_7) -> tuple[float, float]:
    """``mean -+ z * std`` with ``z = Phi^-1((1 + coverage) / 2)`` (2.9677 for 99.7%)."""
    z = _STANDARD_NORMAL.inv_cdf((1.0 + coverage) / 2)
    return (mean - z * std, mean + z * std)


def uniform_interval(low: float, high: float, coverage: float = COVERAGE_99_7) -> tuple[float, float]:
    """For U(low, high): ``center -+ coverage * (high - low) / 2`` (U(-b, b): ``-+0.997 b``)."""
    center, half = (low + high) / 2, (high - low) / 2
    return (center - coverage * half, center + coverage * half)


def bernoulli_interval(p: float, coverage: float = COVERAGE_99_7) -> tuple[float, float]:
    """Equal-tail quantiles of a {0, 1} variable with ``P(1) = p``: the q-quantile is 0 iff q <= 1 - p."""
    tail = (1.0 - coverage) / 2
    return (0.0 if tail <= 1 - p else 1.0, 0.0 if 1 - tail <= 1 - p else 1.0)


def _standardize(x: float, loc: float, scale: float) -> float:
    return (x - loc) / scale


def _x_pdf(x: float) -> float:
    """``x * phi(x)``, taken as 0 at +-inf (its limit) instead of inf * 0 = nan."""
    return 0.0 if math.isinf(x) else x * _STANDARD_NORMAL.pdf(x)


def truncated_normal_moments(loc: float, scale: float, a: float, b: float) -> tuple[float, float]:
    """Mean and std of N(loc, scale^2) truncated to the absolute cut-offs [a, b].

    With ``alpha = (a - loc) / scale``, ``beta = (b - loc) / scale``, ``Z = Phi(beta) - Phi(alpha)``::

        mean = loc + scale * (phi(alpha) - phi(beta)) / Z
        Var  = scale^2 * [1 + (alpha phi(alpha) - beta phi(beta)) / Z - ((phi(alpha) - phi(beta)) / Z)^2]

    (Johnson, Kotz & Balakrishnan 1994, ch. 13.) For torch's default ``trunc_normal_`` (loc 0,
    scale 1, [-2, 2]) the std is 0.8796, not 1.
    """
    alpha, beta = _standardize(a, loc, scale), _standardize(b, loc, scale)
    z = _STANDARD_NORMAL.cdf(beta) - _STANDARD_NORMAL.cdf(alpha)
    if not z > 0.0:
        raise ValueError(f"truncation [a, b] = [{a:g}, {b:g}] holds no mass of N({loc:g}, {scale:g}^2)")
    pdf_a, pdf_b = _STANDARD_NORMAL.pdf(alpha), _STANDARD_NORMAL.pdf(beta)
    shift = (pdf_a - pdf_b) / z
    variance = scale**2 * (1.0 + (_x_pdf(alpha) - _x_pdf(beta)) / z - shift**2)
    return loc + scale * shift, math.sqrt(max(variance, 0.0))


def truncated_normal_quantile(q: float, loc: float, scale: float, a: float, b: float) -> float:
    """The q-quantile of N(loc, scale^2) truncated to [a, b]: ``loc + scale * Phi^-1(Phi(alpha) + q Z)``."""
    cdf_a = _STANDARD_NORMAL.cdf(_standardize(a, loc, scale))
    cdf_b = _STANDARD_NORMAL.cdf(_standardize(b, loc, scale))
    p = cdf_a + q * (cdf_b - cdf_a)
    # inv_cdf needs 0 < p < 1; at the ends the quantile is the cut-off itself.
    if p <= 0.0:
        return a
    if p >= 1.0:
        return b
    return min(max(loc + scale * _STANDARD_NORMAL.inv_cdf(p), a), b)
