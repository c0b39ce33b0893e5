"""``load(name)``: one registry for every dataset name users type, with an in-process cache.

Names: the built-ins (``names()``; case-insensitive, ``_`` and ``-`` alike), ``csv:PATH:TARGET``
(split on the last colon, so ``csv:C:\\data\\x.csv:label`` works) and ``PATH.npz``. Every dataset is
standardized per feature with the train split's mean and std (``initopt.data.standardize``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from initopt.data import files
from initopt.data.builtin import ALIASES, BUILTINS
from initopt.data.errors import DataError, closest
from initopt.data.standardize import fit_scaler, standardize
from initopt.data.types import TARGET_DTYPES, DatasetInfo, RawData, Scaler, Split, Splits

CSV_PREFIX = "csv:"
NPZ_SUFFIX = ".npz"
FILE_FORMS = ("csv:PATH:TARGET", "PATH.npz")
# Loaded datasets kept in memory; a handful of built-ins plus the user files of one session.
CACHE_SIZE = 32


@dataclass(frozen=True)
class Source:
    """A resolved dataset name: hashable, so it keys the cache.

    ``stamp`` (modification time and size) makes an edited file load afresh.
    """

    kind: str  # "builtin", "csv" or "npz"
    ref: str  # canonical built-in name, or the path as the user wrote it
    target: str = ""
    stamp: tuple[int, int] = (0, 0)


def names() -> list[str]:
    """The built-in dataset names, sorted."""
    return sorted(BUILTINS)


def _unknown(name: str) -> ValueError:
    valid = "valid: " + ", ".join([*names(), *FILE_FORMS])
    key = name.strip().lower().replace("_", "-")
    match = closest(key, [*names(), *ALIASES])
    if key.endswith(".csv"):
        hint = f"; for a CSV file write 'csv:{name.strip()}:TARGET_COLUMN'; "
    elif match:
        hint = f"; did you mean {ALIASES.get(match, match)!r}? "
    else:
        hint = "; "
    return ValueError(f"unknown dataset {name!r}{hint}{valid}")


def _stamp(path_text: str) -> tuple[int, int]:
    """(mtime_ns, size) of a data file; DataError if it is missing, suggesting a close file name."""
    path = Path(path_text).expanduser()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        folder = path.parent if path.parent.is_dir() else None
        match = closest(path.name, os.listdir(folder)) if folder is not None else None
        hint = f"; did you mean {str(folder / match)!r}?" if match else ""
        where = "" if folder is not None else f" (folder {str(path.parent)!r} does not exist)"
        raise DataError(f"{path_text}: no such file{where}{hint}") from None
    except OSError as exc:
        raise DataError(f"{path_text}: cannot read ({exc.strerror})") from exc
    if path.is_dir():
        raise DataError(f"{path_text}: is a folder, not a data file")
    return st.st_mtime_ns, st.st_size


def resolve(name: str) -> Source:
    """Parse a dataset name into a ``Source``; raises ValueError for an unknown name."""
    text = name.strip()
    if text.lower().startswith(CSV_PREFIX):
        path, sep, target = text[len(CSV_PREFIX) :].rpartition(":")
        if not sep or not path or not target or target.lower().endswith(".csv"):
            raise ValueError(f"dataset {name!r}: a CSV source is written csv:PATH:TARGET_COLUMN")
        return Source("csv", path, target, _stamp(path))
    if text.lower().endswith(NPZ_SUFFIX):
        return Source("npz", text, stamp=_stamp(text))
    key = text.lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in BUILTINS:
        raise _unknown(name)
    return Source("builtin", key)


def _to_splits(raw: RawData) -> Splits:
    """Standardize with train statistics, build the info, wrap as tensors."""
    mean, std = fit_scaler(raw.x)
    info = DatasetInfo.create(
        name=raw.name,
        task=raw.task,
        input_shape=tuple(raw.x.shape[1:]),
        n_train=len(raw.x),
        n_test=len(raw.x_test),
        description=raw.description,
        n_classes=len(raw.classes),
        classes=raw.classes,
    )
    scaler = Scaler(torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(std.astype(np.float32)))
    y_dtype = TARGET_DTYPES[raw.task]

    def split(x: np.ndarray, y: np.ndarray, part: str) -> Split:
        x = np.ascontiguousarray(standardize(x, mean, std), dtype=np.float32)
        return Split(torch.from_numpy(x), torch.as_tensor(np.asarray(y)).to(y_dtype), info, part, scaler)

    return Splits(split(raw.x, raw.y, "train"), split(raw.x_test, raw.y_test, "test"))


@functools.lru_cache(maxsize=CACHE_SIZE)
def _load_source(source: Source) -> Splits:
    if source.kind == "builtin":
        return _to_splits(BUILTINS[source.ref].make())
    if source.kind == "csv":
        return _to_splits(files.read_csv(source.ref, source.target))
    return _to_splits(files.read_npz(source.ref))


def load(name: str) -> Splits:
    """Load a dataset by name: ``train, test = initopt.data.load("digits")``.

    Args:
        name: a built-in (``breast-cancer``, ``digits``, ``mnist1d``, ``seed-binary``; any case,
            ``_`` or ``-``), ``csv:PATH:TARGET_COLUMN`` or ``PATH.npz``.

    Returns:
        ``Splits(train, test)``; ``.info`` describes the dataset. Features are standardized with the
        train split's per-feature mean and std (a constant feature gets std 1); the fitted
        ``Scaler`` is ``train.scaler``.

    Results are cached in the process: later calls with the same name (and an unchanged file)
    return the very same tensors. Do not modify them in place; clone first.

    Raises:
        ValueError: unknown name (with the closest valid one).
        DataError: a data file is missing or unusable (the message names file, column and line).
    """
    return _load_source(resolve(name))


def describe(name: str) -> DatasetInfo:
    """The ``DatasetInfo`` of ``name`` (loads it, so the sizes are exact)."""
    return load(name).info


def clear_cache() -> None:
    """Forget the in-process cache (the mnist1d disk cache stays)."""
    _load_source.cache_clear()
