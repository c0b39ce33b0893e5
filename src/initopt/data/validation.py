"""The validation split: rows held out of the training data to choose hyperparameters on.

A study ranks its configurations, and ``initopt train`` reports its validation score, on data the
model never trained on and that the final test score is not taken from: choosing on the test split
and reporting that same number is optimistic (the best of many noisy scores is biased upward).

``validation`` is one of
- a fraction in (0, 1): that share of the training rows, held out with a fixed seed
  (``SPLIT_SEED``): stratified by class for one-label-per-example classification, random for
  regression, ratings and a class with too few rows to stratify, and the last rows by position for
  sequences (language modelling windows, whose neighbours share text);
- ``0``: none; the test split is used for selection, as initopt did before validation splits (the
  report says so);
- for a CSV dataset, the path of a CSV file with the same columns; for an ``.npz`` dataset,
  ``"npz"``: its own ``x_val``/``y_val`` arrays.
"""

from __future__ import annotations

import math

import numpy as np

from initopt.data.errors import DataError
from initopt.data.splitting import MIN_ROWS_PER_SPLIT, split_indices
from initopt.data.targets import class_label
from initopt.data.types import RawData

DEFAULT_FRACTION = 0.2


class ValidationError(DataError):
    """The validation split cannot be made: too few rows, or a validation file that does not fit."""
NPZ_ARRAYS = ("x_val", "y_val")


def check_fraction(value: object) -> float | str:
    """``value`` as a validation setting: a fraction in [0, 1) or a file; ValueError naming what is wrong."""
    if isinstance(value, bool):
        raise ValueError(f"expected a fraction in [0, 1) or a file path, got {value!r}")
    if isinstance(value, (int, float)):
        if not (math.isfinite(value) and 0 <= value < 1):
            raise ValueError(f"expected a fraction in [0, 1) (0: no validation split), got {value!r}")
        return float(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError(f"expected a fraction in [0, 1) or a file path, got {value!r}")


def parse_validation(text: str) -> float | str:
    """A ``--validation`` given on a command line: a number is a fraction, anything else a file (or
    ``npz``); checked by ``check_fraction``."""
    try:
        value: float | str = float(text)
    except ValueError:
        value = text
    return check_fraction(value)


def hold_out(raw: RawData, fraction: float) -> tuple[RawData, np.ndarray, np.ndarray]:
    """``(train part, x_val, y_val)``: ``fraction`` of ``raw``'s training rows held out."""
    where = f"{raw.name}: validation {fraction:g}"
    n = len(raw.x)
    if raw.y.ndim > 1:  # sequences: the tail by position
        n_val = math.ceil(fraction * n)
        if min(n_val, n - n_val) < MIN_ROWS_PER_SPLIT:
            raise ValidationError(f"{where}: {n} training windows are too few to hold out {fraction:g} of them")
        train, val = np.arange(n - n_val), np.arange(n - n_val, n)
    else:
        classification = raw.task != "regression" and raw.input_kind != "pairs"
        try:
            train, val = split_indices(raw.y, stratify=classification and _stratifiable(raw.y, fraction),
                                       where=where, classes=raw.classes, fraction=fraction)
        except DataError as exc:
            raise ValidationError(str(exc)) from None
        train.sort(), val.sort()  # the training rows keep their order: a data order draws from it
    kept = RawData(**{**raw.__dict__, "x": raw.x[train], "y": raw.y[train]})
    return kept, raw.x[val], raw.y[val]


def _stratifiable(y: np.ndarray, fraction: float) -> bool:
    """Every class has two rows and each part can hold one of each (else a random split)."""
    _, counts = np.unique(y, return_counts=True)
    n_val = math.ceil(fraction * len(y))
    return counts.min() >= 2 and len(counts) <= min(n_val, len(y) - n_val)


def from_file(raw: RawData, kind: str, path: str, target: str, validation: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x_val, y_val)`` of the user's own validation data, encoded as ``raw``'s training data.

    ``kind``, ``path``, ``target``: the dataset's form (``csv``, ``npz``, ...), file and target column."""
    from initopt.data import files

    try:
        if kind == "npz" and validation == "npz":
            x, y = files.read_npz_pair(path, NPZ_ARRAYS)
        elif kind == "csv" and validation != "npz":
            x, y = files.read_csv_like(validation, path, target)
        else:
            x = y = None
    except DataError as exc:
        raise ValidationError(str(exc)) from None
    if x is None:
        form = "the path of a CSV file with the same columns" if kind == "csv" else '"npz" (its x_val and y_val arrays)'
        if kind not in ("csv", "npz"):
            raise ValidationError(f"validation {validation!r}: a validation file is taken for CSV and .npz datasets; "
                            f"for {raw.name} give a fraction such as 0.2")
        raise ValidationError(f"validation {validation!r}: for {raw.name} give a fraction or {form}")
    where = validation if kind == "csv" else f"{path}: arrays 'x_val', 'y_val'"
    if tuple(x.shape[1:]) != tuple(raw.x.shape[1:]):
        raise ValidationError(f"{where}: rows have shape {tuple(x.shape[1:])}, the training rows {tuple(raw.x.shape[1:])}")
    if len(x) < MIN_ROWS_PER_SPLIT:
        raise ValidationError(f"{where}: {len(x)} rows; a validation split needs at least {MIN_ROWS_PER_SPLIT}")
    return x, _encode_like(raw, y, where)


def _encode_like(raw: RawData, y: np.ndarray, where: str) -> np.ndarray:
    """Validation targets as the training data's classes (by label) or values."""
    if raw.task == "regression":
        if y.dtype.kind not in "biuf":
            raise ValidationError(f"{where}: targets must be numbers for a regression dataset")
        return y.astype(raw.y.dtype)
    labels = {label: i for i, label in enumerate(raw.classes)}
    out = np.empty(len(y), dtype=raw.y.dtype)
    for row, value in enumerate(y):
        label = class_label(value.item() if isinstance(value, np.generic) else value)
        if label not in labels:
            raise ValidationError(f"{where}, row {row + 1}: label {label!r} is not a class of the training data "
                            f"({', '.join(repr(c) for c in raw.classes[:6])}{', ...' if len(raw.classes) > 6 else ''})")
        out[row] = labels[label]
    return out
