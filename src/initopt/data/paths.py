"""File paths written in a study spec, read against the spec's folder.

A spec names its files relative to itself (``csv:data/x.csv:label`` beside ``study.toml``), so the
same spec works from any working directory. The spec keeps the path as written (its ids hash that,
not where the study ran); these functions give the path to open. Absolute paths, ``~`` paths and
built-in dataset names stay as they are.
"""

from __future__ import annotations

import os
from pathlib import Path


def resolve_file(path: str, folder: str | Path | None) -> str:
    """``path`` read against ``folder`` (``None``: the working directory, as written).

    The result is relative to the working directory when the file lies under it (messages then
    name ``examples/data/x.txt`` as a user in the repository root would write it), absolute
    otherwise."""
    if folder is None or not path.strip():
        return path
    written = Path(path.strip()).expanduser()
    if written.is_absolute():
        return str(written)
    target = Path(os.path.normpath(Path(folder) / written))
    try:
        return str(target.relative_to(Path.cwd()))
    except ValueError:  # outside the working directory (or on another drive)
        return str(target)


def resolve_dataset(name: str, folder: str | Path | None) -> str:
    """A dataset name with its file (``csv:PATH:TARGET``, ``PATH.npz``, ``text:PATH``,
    ``ratings:PATH``) read against ``folder``; a built-in's name, or one that is no dataset (left
    for ``load`` to report with the valid names), unchanged."""
    from initopt.data.loader import CSV_PREFIX, NPZ_SUFFIX, PREFIXED

    if folder is None:
        return name
    text = name.strip()
    if text.lower().startswith(CSV_PREFIX):
        path, sep, target = text[len(CSV_PREFIX) :].rpartition(":")
        return f"{text[: len(CSV_PREFIX)]}{resolve_file(path, folder)}:{target}" if sep and path else name
    for prefix in PREFIXED:
        if text.lower().startswith(prefix):
            path = text[len(prefix) :]
            return f"{text[: len(prefix)]}{resolve_file(path, folder)}" if path.strip() else name
    if text.lower().endswith(NPZ_SUFFIX):
        return resolve_file(text, folder)
    return name
