"""``explain("he_normal", fan_in=100)``: a scheme's numbers for given fans, with the formula shown.

The record (:class:`Explanation`) is computed first; ``str()`` renders it. The intervals are the
central 99.7% of the weights, from the exact quantiles of each distribution
(:mod:`initopt.init.distributions`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

from initopt.init.distributions import COVERAGE_99_7, Distribution, Kind
from initopt.init.model_schemes import ModelScheme, residual_std
from initopt.init.registry import SchemeLike, accepted_params, canonical_name, get
from initopt.init.scheme import Scheme

__all__ = ["Explanation", "explain"]

#: The interval the source texts wrongly claimed He-initialized weights stay in.
_CLAIMED_RANGE = 0.01
_Z_99_7 = NormalDist().inv_cdf((1 + COVERAGE_99_7) / 2)  # 2.9677


def _n(x: float) -> str:
    """A number for a formula: 4 significant digits, no trailing zeros, ints as ints."""
    return f"{x:.4g}"


def _p(x: float) -> str:
    """``_n`` with parentheses around negatives, for use after an operator: ``3 - (-1)``."""
    return f"({_n(x)})" if x < 0 else _n(x)


@dataclass(frozen=True)
class Explanation:
    """A scheme's statistics for given fans.

    ``gain`` is set for schemes that scale by one (He, Xavier, LeCun = 1, orthogonal); ``bound``
    for uniform schemes (all weights lie in [-bound, bound]); ``support`` the hard limits of the
    weights where there are any (uniform, truncated normal, constant, identity); ``interval_99_7`` is the central
    interval holding 99.7% of the weights (None where the fans do not determine it); ``formula``
    shows the formula and the numbers; ``notes`` say how the interval was computed and correct
    common misstatements.
    """

    scheme: str
    source: str
    fan_in: int
    fan_out: int | None
    gain: float | None
    mean: float | None
    std: float | None
    variance: float | None
    bound: float | None
    support: tuple[float, float] | None
    interval_99_7: tuple[float, float] | None
    formula: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples as lists)."""
        data = asdict(self)
        for key in ("support", "interval_99_7"):
            data[key] = None if data[key] is None else list(data[key])
        data["notes"] = list(self.notes)
        return data

    def __str__(self) -> str:
        fans = f"fan_in = {self.fan_in}" + ("" if self.fan_out is None else f", fan_out = {self.fan_out}")
        lines = [
            self.scheme,
            f"  source: {self.source}",
            f"  {fans}" + ("" if self.gain is None else f", gain = {_n(self.gain)}"),
        ]
        lines += [f"  {line}" for line in self.formula.splitlines()]
        if self.support is not None:
            lines.append(f"  every weight in [{_n(self.support[0])}, {_n(self.support[1])}]")
        if self.interval_99_7 is not None:
            lo, hi = self.interval_99_7
            lines.append(f"  99.7% of weights in [{_n(lo)}, {_n(hi)}]")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


# -- formulas: one function per family, returning the formula lines with the numbers -------------
def _gain_squared_text(nonlinearity: str) -> str:
    return {"relu": "2", "tanh": "(5/3)^2", "selu": "(3/4)^2", "leaky_relu": "2 / (1 + a^2)"}.get(nonlinearity, "1")


def _gain_squared_numbers(scheme: Scheme) -> str:
    if scheme.params["nonlinearity"] == "leaky_relu":
        return f"2 / (1 + {_n(scheme.params['a'])}^2)"
    return _n((scheme.gain() or 0.0) ** 2)


def _he_formula(scheme: Scheme, fan_in: int, fan_out: int | None, law: Distribution) -> list[str]:
    p = scheme.params
    fan = fan_in if p["mode"] == "fan_in" else fan_out
    lines = [
        f"Var(W) = {_gain_squared_text(p['nonlinearity'])} / {p['mode']} = {_gain_squared_numbers(scheme)} / {fan}"
        f" = {_n(law.std**2)}",
        f"std = sqrt(Var(W)) = {_n(law.std)}",
    ]
    if law.kind is Kind.UNIFORM:
        lines.append(f"bound = sqrt(3 * Var(W)) = sqrt(3 * {_n(law.std**2)}) = {_n(law.high or 0.0)}")
    return lines


def _glorot_formula(scheme: Scheme, fan_in: int, fan_out: int | None, law: Distribution) -> list[str]:
    gain = scheme.params["gain"]
    g_text, g_num = ("", "") if gain == 1 else ("gain^2 * ", f"{_n(gain**2)} * ")
    lines = [
        f"Var(W) = {g_text}2 / (fan_in + fan_out) = {g_num}2 / ({fan_in} + {fan_out}) = {_n(law.std**2)}",
        f"std = sqrt(Var(W)) = {_n(law.std)}",
    ]
    if law.kind is Kind.UNIFORM:
        g_text, g_num = ("", "") if gain == 1 else ("gain * ", f"{_n(gain)} * ")
        lines.append(
            f"bound = {g_text}sqrt(6 / (fan_in + fan_out)) = {g_num}sqrt(6 / {fan_in + (fan_out or 0)})"
            f" = {_n(law.high or 0.0)}"
        )
    return lines


def _lecun_formula(scheme: Scheme, fan_in: int, fan_out: int | None, law: Distribution) -> list[str]:
    lines = [f"Var(W) = 1 / fan_in = 1 / {fan_in} = {_n(law.std**2)}", f"std = sqrt(Var(W)) = {_n(law.std)}"]
    if law.kind is Kind.UNIFORM:
        lines.append(f"bound = sqrt(3 / fan_in) = sqrt(3 / {fan_in}) = {_n(law.high or 0.0)}")
    return lines


def _normal_formula(scheme: Scheme, fan_in: int, fan_out: int | None, law: Distribution) -> list[str]:
    p = scheme.params
    return [f"W ~ N(mean, std^2) = N({_n(p['mean'])}, {_n(p['std'])}^2)", f"Var(W) = std^2 = {_n(p['std'] ** 2)}"]


def _uniform_formula(scheme: Scheme, fan_in: int, fan_out: int | None, law: Distribution) -> list[str]:
    a, b = scheme.params["a"], scheme.params["b"]
    return [
        f"W ~ U(a, b) = U({_n(a)}, {_n(b)})",
        f"Var(W) = (b - a)^2 / 12 = ({_n(b)} - {_p(a)})^2 / 12 = {_n(law.std**2)}",
        f"mean = (a + b) / 2 = {_n(law.mean)}, std = (b - a) / sqrt(12) = {_n(law.std)}",
    ]


def _trunc_normal_formula(scheme: Scheme, fan_in: int, fan_out: int | None, law: Distribution) -> list[str]:
    p = scheme.params
    alpha, beta = (p["a"] - p["mean"]) / p["std"], (p["b"] - p["mean"]) / p["std"]
    mass = NormalDist().cdf(beta) - NormalDist().cdf(alpha)
    return [
        f"W ~ N({_n(p['mean'])}, {_n(p['std'])}^2) restricted to [a, b] = [{_n(p['a'])}, {_n(p['b'])}]",
        f"alpha = (a - mean) / std = {_n(alpha)}, beta = (b - mean) / std = {_n(beta)},"
        f" Z = Phi(beta) - Phi(alpha) = {_n(mass)}",
        "Var(W) = std^2 * [1 + (alpha phi(alpha) - beta phi(beta)) / Z - ((phi(alpha) - phi(beta)) / Z)^2]"
        f" = {_n(law.std**2)}",
        f"std(W) = {_n(law.std)} (the parameter std = {_n(p['std'])} is the untruncated normal's)",
    ]


def _constant_formula(scheme: Scheme, fan_in: int, fan_out: int | None, law: Distribution) -> list[str]:
    return [f"W = {_n(law.mean)} (every weight)", "Var(W) = 0, std = 0"]


def _orthogonal_formula(scheme: Scheme, fan_in: int, fan_out: int | None, law: Distribution) -> list[str]:
    gain = scheme.params["gain"]
    return [
        "W = gain * Q, Q with orthonormal rows or columns",
        f"Var(W) = gain^2 / max(fan_in, fan_out) = {_n(gain**2)} / max({fan_in}, {fan_out}) = {_n(law.std**2)}",
        f"std = gain / sqrt(max(fan_in, fan_out)) = {_n(law.std)}",
    ]


def _identity_formula(scheme: Scheme, fan_in: int, fan_out: int | None, law: Distribution) -> list[str]:
    return [
        f"W = I ({fan_out} x {fan_in}): P(W = 1) = min(fan_in, fan_out) / (fan_in * fan_out) = {_n(law.mean)}",
        f"Var(W) = p (1 - p) = {_n(law.std**2)}, std = {_n(law.std)}",
    ]


#: Block counts the gpt2 formula shows its residual std for (N = 2 per block).
_GPT2_BLOCKS = (1, 2, 6, 12)


def _gpt2_formula(scheme: Scheme, fan_in: int, fan_out: int | None, law: Distribution) -> list[str]:
    p = scheme.params
    std = p["std"]
    residual = ", ".join(f"{_n(residual_std(std, 2 * blocks))} ({blocks} block{'s' if blocks > 1 else ''})"
                         for blocks in _GPT2_BLOCKS)
    embedding = (f"N(0, 1 / dim), std = 1 / sqrt({fan_in}) = {_n(1 / math.sqrt(fan_in))} for dim = fan_in = {fan_in}"
                 if p["embedding"] == "lecun_normal" else f"N(0, {_n(std)}^2)")
    head = "0 (zeros)" if p["head"] == "zeros" else f"N(0, {_n(std)}^2)"
    return [
        f"Linear/Conv weights: W ~ N(0, std^2) = N(0, {_n(std)}^2), Var(W) = {_n(std**2)}",
        "residual projections (attention proj, the MLP's second Linear): N(0, (std / sqrt(N))^2),",
        f"  N = residual layers (2 per block): std = {residual}",
        f"embeddings (token, position): {embedding}",
        f"output head (last Linear): {head}",
        "biases: initialize's bias (zeros by default); norm layers: weight 1, bias 0",
    ]


_FORMULAS: dict[str, Callable[[Scheme, int, int | None, Distribution], list[str]]] = {
    "gpt2": _gpt2_formula,
    "he_normal": _he_formula,
    "he_uniform": _he_formula,
    "xavier_normal": _glorot_formula,
    "xavier_uniform": _glorot_formula,
    "lecun_normal": _lecun_formula,
    "lecun_uniform": _lecun_formula,
    "normal": _normal_formula,
    "uniform": _uniform_formula,
    "trunc_normal": _trunc_normal_formula,
    "zeros": _constant_formula,
    "constant": _constant_formula,
    "orthogonal": _orthogonal_formula,
    "identity": _identity_formula,
}


# -- notes ---------------------------------------------------------------------------------------
def _interval_note(law: Distribution) -> str:
    if law.kind is Kind.NORMAL:
        approx = "approximate (a normal approximation of the entries); " if law.approximate else ""
        return f"{approx}99.7% interval = mean -+ {_Z_99_7:.4f} std, the exact normal quantile (3 std holds 99.73%)"
    if law.kind is Kind.UNIFORM:
        return "99.7% interval = centre -+ 0.997 * half-width of the uniform"
    if law.kind is Kind.TRUNCATED_NORMAL:
        return "99.7% interval from the exact quantiles of the truncated normal"
    if law.kind is Kind.POINT:
        return (
            "every unit of the layer starts identical and gets the same gradient, so the units stay"
            " identical (symmetry); this does not 'prevent vanishing gradients'"
        )
    return "values are 0 and 1 only"


def _share_outside(law: Distribution, half_width: float) -> float:
    """Share of zero-mean weights with ``|W| > half_width`` (normal or symmetric uniform)."""
    if law.kind is Kind.UNIFORM:
        return max(0.0, 1.0 - half_width / (law.high or math.inf))
    return 2 * (1 - NormalDist(0.0, law.std).cdf(half_width)) if law.std > 0 else 0.0


def _he_notes(scheme: Scheme, law: Distribution) -> list[str]:
    outside = _share_outside(law, _CLAIMED_RANGE)
    return [
        f"Var(W) = gain^2 / {scheme.params['mode']}, not gain^2 / ({scheme.params['mode']} - 1)",
        f"the weights are not confined to [-{_CLAIMED_RANGE}, {_CLAIMED_RANGE}]: {outside:.1%} of them lie outside it",
    ]


def _support(law: Distribution) -> tuple[float, float] | None:
    if law.kind is Kind.POINT:
        return (law.mean, law.mean)
    if law.low is None or law.high is None:
        return None
    return (law.low, law.high)


# -- entry point ---------------------------------------------------------------------------------
def _resolve(name: SchemeLike, nonlinearity: str, params: dict[str, Any]) -> Scheme:
    if isinstance(name, Scheme):
        if params:
            raise ValueError(
                f"cannot add parameters {sorted(params)} to the built scheme {name!r}; pass a name or dict"
            )
        return name
    spec = dict(name) if isinstance(name, Mapping) else {"name": name}
    spec.update(params)
    # nonlinearity is the CLI's default for every scheme: it applies only to schemes that take it.
    takes_nonlinearity = "name" in spec and "nonlinearity" in accepted_params(canonical_name(spec["name"]))
    if takes_nonlinearity and "nonlinearity" not in spec:
        spec["nonlinearity"] = nonlinearity
    return get(spec)


def _check_fan(field: str, value: object, required: bool) -> None:
    if value is None and not required:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{field} must be a positive int; got {value!r}")


def explain(
    name: SchemeLike, fan_in: int, fan_out: int | None = None, nonlinearity: str = "relu", **params: Any
) -> Explanation:
    """Explain a scheme for a layer with ``fan_in`` (and ``fan_out``) inputs (outputs).

    ``name`` is a scheme name (with ``params``), a spec dict or a Scheme. ``nonlinearity`` applies
    only to schemes that take one (he_*), and only when the name/dict does not set it; other schemes
    ignore it silently (it is the CLI's default for every scheme). Schemes whose std needs
    ``fan_out`` (xavier_*, orthogonal, identity, he_* with mode='fan_out') raise ``ValueError``
    naming ``fan_out`` without it.

    >>> e = explain("he_normal", fan_in=100)
    >>> round(e.std, 4), [round(x, 4) for x in e.interval_99_7]
    (0.1414, [-0.4197, 0.4197])
    """
    _check_fan("fan_in", fan_in, required=True)
    _check_fan("fan_out", fan_out, required=False)
    scheme = _resolve(name, nonlinearity, params)
    law = scheme.distribution(fan_in, fan_out)
    formula = _FORMULAS.get(scheme.name)
    if law is None or formula is None:
        lines = [f"{scheme.name}: the statistics depend on the kernel shape, which fan_in/fan_out do not give"]
    else:
        lines = formula(scheme, fan_in, fan_out, law)
    notes = [] if law is None else [_interval_note(law)]
    if law is not None and scheme.name.startswith("he_"):
        notes += _he_notes(scheme, law)
    if isinstance(scheme, ModelScheme):
        notes.append("a model-wide scheme: the numbers above (std, interval) are its plain Linear/Conv weights';"
                     " initialize(model, ...) draws each parameter by its role")
    return Explanation(
        scheme=repr(scheme),
        source=scheme.source,
        fan_in=fan_in,
        fan_out=fan_out,
        gain=scheme.gain(),
        mean=None if law is None else law.mean,
        std=None if law is None else law.std,
        variance=None if law is None else law.std**2,
        bound=max(abs(law.low or 0.0), abs(law.high or 0.0)) if law is not None and law.kind is Kind.UNIFORM else None,
        support=None if law is None else _support(law),
        interval_99_7=None if law is None else law.interval(COVERAGE_99_7),
        formula="\n".join(lines),
        notes=tuple(notes),
    )
