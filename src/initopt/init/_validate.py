"""Boundary checks shared by the init package: each error names the field, the value and the fix."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable


def unknown_choice_message(
    field: str, value: object, valid: Iterable[str], *, context: str = "", match_on: str | None = None
) -> str:
    """``"unknown <field> 'x'<context>; did you mean 'y'? valid: a, b, c"`` (suggestion only when close).

    ``match_on`` is the normalised spelling to look for the closest choice with (default ``value``).
    """
    choices = sorted(valid)
    message = f"unknown {field} {value!r}{context};"
    probe = match_on if match_on is not None else value
    if isinstance(probe, str):
        close = difflib.get_close_matches(probe, choices, n=1)
        if close:
            message += f" did you mean {close[0]!r}?"
    return f"{message} valid: {', '.join(choices) if choices else '(none)'}"


def check_choice(field: str, value: object, valid: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``valid``, else raise ``ValueError`` suggesting the closest."""
    choices = tuple(valid)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(unknown_choice_message(field, value, choices))
    return value


def check_number(
    field: str,
    value: object,
    *,
    minimum: float | None = None,
    strictly_above: bool = False,
    allow_infinite: bool = False,
) -> float:
    """Return ``value`` as a float after checking it is a real number (not a bool) in range.

    ``minimum`` is inclusive unless ``strictly_above``. NaN is always rejected; +-inf only with
    ``allow_infinite`` (truncation cut-offs).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{field} must be a number; got {value!r}")
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not allow_infinite):
        raise ValueError(f"{field} must be a finite number; got {value!r}")
    if minimum is not None:
        if strictly_above and not number > minimum:
            raise ValueError(f"{field} must be > {minimum:g}; got {value!r}")
        if not strictly_above and not number >= minimum:
            raise ValueError(f"{field} must be >= {minimum:g}; got {value!r}")
    return number
