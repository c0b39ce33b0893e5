"""Decide the task from a target column and encode it: binary, multiclass or regression.

Rules (the same for CSV columns and npz arrays):

* labels that are not numbers (``"yes"``/``"no"``, ``"cat"``/``"dog"``/...) are classes;
* numbers that are all integers with at most ``MAX_CLASSES`` distinct values are classes;
* any other numbers are a regression target.

Two classes make a binary task, 3..``MAX_CLASSES`` a multiclass one. Classes are numbered in sorted
order (numerically for numbers, by string otherwise): ``{-1, 1}`` -> ``{0, 1}``, ``{"no", "yes"}``
-> ``{0, 1}``, ``{1, 2, 5}`` -> ``{0, 1, 2}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from initopt.data.errors import DataError
from initopt.data.types import Task

# Integer targets with more distinct values than this are treated as regression (counts, years);
# label targets with more are rejected, since 100+ classes from a CSV column is most likely an ID.
MAX_CLASSES = 100


@dataclass(frozen=True, eq=False)
class Target:
    """An encoded target: ``y`` (float32 0/1, int64 0..k-1 or float32 values), its task and classes."""

    y: np.ndarray
    task: Task
    classes: tuple[str, ...]


def class_label(value: object) -> str:
    """How a class value is written in ``classes``: integers without a trailing ``.0``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def encode_target(values: np.ndarray, where: str) -> Target:
    """Infer the task of ``values`` (1-D, real numbers or strings) and encode them.

    ``where`` starts error messages, e.g. ``"data.csv: column 'label'"``. Real values must already
    be finite (the caller knows the line or index to blame).

    Raises:
        DataError: a single class, or more than ``MAX_CLASSES`` distinct string labels.
    """
    numeric = values.dtype.kind in "biuf"
    if numeric:
        values = values.astype(np.float64)
        is_classes = bool(np.all(values == np.round(values)))
    else:
        values = values.astype(str)
        is_classes = True
    uniques, codes = np.unique(values, return_inverse=True)
    if is_classes and len(uniques) > MAX_CLASSES:
        if numeric:
            is_classes = False
        else:
            raise DataError(
                f"{where}: {len(uniques)} distinct labels (at most {MAX_CLASSES} classes); "
                "is this an ID column? a regression target must be numbers"
            )
    if not is_classes:
        return Target(values.astype(np.float32), "regression", ())
    if len(uniques) < 2:
        raise DataError(f"{where}: every row has the label {class_label(uniques[0])!r}; need at least 2 classes")
    classes = tuple(class_label(u) for u in uniques)
    if len(uniques) == 2:
        return Target(codes.astype(np.float32), "binary", classes)
    return Target(codes.astype(np.int64), "multiclass", classes)
