"""Number formatting shared by every renderer, so the HTML, the Markdown and the plots agree."""

from __future__ import annotations

import math

SIGNIFICANT = 4  # digits of a metric: 0.8857, 0.2991, 12.34
SCIENTIFIC_BELOW, SCIENTIFIC_FROM = 1e-3, 1e4  # a hyperparameter outside this range is written 3e-04


def num(value: float | None, digits: int = SIGNIFICANT) -> str:
    """``0.8857``; ``-`` for a missing or non-finite value."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"


def hyper(value: float) -> str:
    """A hyperparameter in few characters: ``0.01``, ``0.3``, ``10``; compact scientific notation
    below 1e-3 and from 1e4 on: ``1e-04``, ``3.2e-05``, ``1e+04``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if SCIENTIFIC_BELOW <= abs(value) < SCIENTIFIC_FROM:
        return f"{value:.3g}"
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"


def pm(mean: float, std: float) -> str:
    """``0.8857 ± 0.0059``: the spread shown to the same decimal place as the mean."""
    if not math.isfinite(mean):
        return "-"
    decimals = _decimals(mean)
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}" if math.isfinite(std) else f"{mean:.{decimals}f}"


def interval(low: float, high: float, like: float) -> str:
    """``[0.8711, 0.9003]`` with the decimals of ``like`` (the mean); ``-`` without an interval."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "-"
    decimals = _decimals(like)
    return f"[{low:.{decimals}f}, {high:.{decimals}f}]"


def delta(difference: float, like: float) -> str:
    """The size of a difference with the decimals of ``like`` (a mean): ``0.0132``; float noise shows as 0."""
    if not math.isfinite(difference):
        return "-"
    return f"{abs(difference):.{_decimals(like)}f}"


def pvalue(p: float) -> str:
    if not math.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 1e-3 else f"{p:.3f}"


def seconds(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min" if value < 7200 else f"{value / 3600:.1f} h"


def _decimals(value: float) -> int:
    """Decimals that show ``SIGNIFICANT`` digits of ``value`` (at least 1, at most 8)."""
    if not math.isfinite(value) or value == 0:
        return SIGNIFICANT
    magnitude = math.floor(math.log10(abs(value)))
    return max(1, min(8, SIGNIFICANT - 1 - magnitude))


def compact_json(value: object, indent: int = 2, width: int = 100, _level: int = 0) -> str:
    """JSON with nesting indented but short lists and tables on one line (a spec reads like its TOML)."""
    import json

    flat = json.dumps(value, default=str)
    if len(flat) + indent * _level <= width or not isinstance(value, (dict, list, tuple)):
        return flat
    pad, inner = " " * (indent * _level), " " * (indent * (_level + 1))
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(str(k))}: {compact_json(v, indent, width, _level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    items = [f"{inner}{compact_json(v, indent, width, _level + 1)}" for v in value]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"
