"""One way of saying "unknown name; did you mean ...? valid: ..." across initopt."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'adam'?"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown(kind: str, name: object, choices: Iterable[str], extra: str = "") -> str:
    """``unknown loss 'bcee'; did you mean 'bce'? valid: bce, mse`` (``extra`` appended to the list)."""
    choices = sorted(choices)
    return f"unknown {kind} {name!r}{did_you_mean(str(name), choices)} valid: {', '.join(choices)}{extra}"


def is_whole_number(value: object) -> bool:
    """An int that is not a bool (TOML and YAML give bools for true/false)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
