"""The one error the store raises for anything a user can cause (a wrong file, a wrong name)."""

from __future__ import annotations


class StoreError(ValueError):
    """A results database cannot be used as asked; the message names the file and what to do.

    A ``ValueError`` so that the CLI's one-line error handling catches it without knowing the store.
    """
