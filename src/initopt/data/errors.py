"""The one exception for bad user data, and the "did you mean" helper its messages use."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib's default: below this similarity a "suggestion" is more confusing than none.
SUGGESTION_CUTOFF = 0.6


class DataError(ValueError):
    """A data file cannot be used as given.

    The message starts with the file (``"data.csv: ..."``) and, where it applies, names the column
    and the 1-based line (the header is line 1) or the array and index, and says what would fix it.
    """


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most similar to ``word`` (case-insensitive), or None if nothing is close."""
    by_lower = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=SUGGESTION_CUTOFF)
    return by_lower[match[0]] if match else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, else ``";"``: either way a clause follows."""
    match = closest(word, choices)
    return f"; did you mean {match!r}?" if match is not None else ";"
