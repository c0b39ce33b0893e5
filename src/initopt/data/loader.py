"""``load(name, **options)``: one registry for every dataset name users type, with an in-process cache.

Names: the built-ins (``names()``; case-insensitive, ``_`` and ``-`` alike), ``csv:PATH:TARGET``
(split on the last colon, so ``csv:C:\\data\\x.csv:label`` works), ``PATH.npz``, ``text:PATH``
(``initopt.data.text``) and ``ratings:PATH`` (``initopt.data.ratings``). A dataset's options
(``options_of``) are checked by ``initopt.data.options``. Every ``"values"`` dataset is standardized
per feature with the train split's mean and std (``initopt.data.standardize``); token and id inputs
(``"tokens"``, ``"pairs"``) are int64 and left as they are.
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
from initopt.data.options import Option, OptionError, Value, resolve_options
from initopt.data.ratings import RATINGS_PREFIX, read_ratings
from initopt.data.standardize import fit_scaler, standardize
from initopt.data.text import TEXT_OPTIONS, TEXT_PREFIX, read_text
from initopt.data.types import INPUT_DTYPES, TARGET_DTYPES, DatasetInfo, RawData, Scaler, Split, Splits, ValidatedSplits
from initopt.data.validation import DEFAULT_FRACTION, ValidationError, check_fraction, from_file, hold_out

CSV_PREFIX = "csv:"
NPZ_SUFFIX = ".npz"
FILE_FORMS = ("csv:PATH:TARGET", "PATH.npz", "text:PATH", "ratings:PATH")
# The options each file form takes (the built-ins declare theirs in their registry rows).
FILE_OPTIONS: dict[str, tuple[Option, ...]] = {"csv": (), "npz": (), "text": TEXT_OPTIONS, "ratings": ()}
# The file forms written with a prefix, and their readers.
PREFIXED = {TEXT_PREFIX: "text", RATINGS_PREFIX: "ratings"}
# Loaded datasets kept in memory; a handful of built-ins plus the user files of one session.
CACHE_SIZE = 32


@dataclass(frozen=True)
class Source:
    """A resolved dataset name: hashable, so it keys the cache.

    ``stamp`` (modification time and size) makes an edited file load afresh.
    """

    kind: str  # "builtin", "csv", "npz", "text" or "ratings"
    ref: str  # canonical built-in name, or the path as the user wrote it
    target: str = ""
    stamp: tuple[int, int] = (0, 0)
    options: tuple[tuple[str, Value], ...] = ()  # every option the source takes, defaults filled in


def names() -> list[str]:
    """The built-in dataset names, sorted."""
    return sorted(BUILTINS)


def _unknown(name: str) -> ValueError:
    valid = "valid: " + ", ".join([*names(), *FILE_FORMS])
    key = name.strip().lower().replace("_", "-")
    match = closest(key, [*names(), *ALIASES])
    if key.endswith(".csv"):
        hint = f"; for a CSV file write 'csv:{name.strip()}:TARGET_COLUMN' (or 'ratings:{name.strip()}' for ratings); "
    elif key.endswith(".txt"):
        hint = f"; for character-level language modelling of a text file write 'text:{name.strip()}'; "
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


def _parse(name: str) -> Source:
    """The form of ``name`` (which built-in, which file), without touching any file."""
    text = name.strip()
    if text.lower().startswith(CSV_PREFIX):
        path, sep, target = text[len(CSV_PREFIX) :].rpartition(":")
        if not sep or not path or not target or target.lower().endswith(".csv"):
            raise ValueError(f"dataset {name!r}: a CSV source is written csv:PATH:TARGET_COLUMN")
        return Source("csv", path, target)
    for prefix, kind in PREFIXED.items():
        if text.lower().startswith(prefix):
            path = text[len(prefix) :]
            if not path.strip():
                raise ValueError(f"dataset {name!r}: a {kind} file is written {prefix}PATH")
            return Source(kind, path)
    if text.lower().endswith(NPZ_SUFFIX):
        return Source("npz", text)
    key = text.lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in BUILTINS:
        raise _unknown(name)
    return Source("builtin", key)


def options_of(name: str) -> tuple[Option, ...]:
    """The options dataset ``name`` takes (``()`` for none); ValueError for an unknown name.

    Touches no file: a study spec checks its ``[workload.data]`` with it before any data is loaded."""
    source = _parse(name)
    return BUILTINS[source.ref].options if source.kind == "builtin" else FILE_OPTIONS[source.kind]


def resolve(name: str, **options: object) -> Source:
    """Parse a dataset name and its options into a ``Source``.

    Raises:
        ValueError: an unknown name; ``initopt.data.options.OptionError`` for an option the dataset
            does not take or a bad value.
        DataError: a data file that does not exist.
    """
    source = _parse(name)
    label = source.ref if source.kind == "builtin" else name.strip()
    filled = resolve_options(label, options_of(name), options)
    stamp = _stamp(source.ref) if source.kind != "builtin" else (0, 0)
    return Source(source.kind, source.ref, source.target, stamp, tuple(filled.items()))


def _to_splits(raw: RawData, val: tuple[np.ndarray, np.ndarray] | None = None) -> ValidatedSplits:
    """Standardize ``"values"`` inputs with train statistics, build the info, wrap as tensors.

    ``val``: held-out validation rows ``(x, y)``, standardized with the statistics of ``raw.x`` (the
    rows trained on) like the test rows."""
    info = DatasetInfo.create(
        name=raw.name,
        task=raw.task,
        input_shape=tuple(raw.x.shape[1:]),
        n_train=len(raw.x),
        n_test=len(raw.x_test),
        description=raw.description,
        n_classes=len(raw.classes),
        classes=raw.classes,
        input_kind=raw.input_kind,
        vocab_size=raw.vocab_size,
        n_users=raw.n_users,
        n_items=raw.n_items,
        target_shape=tuple(raw.y.shape[1:]),
        default_metric=raw.default_metric or None,
        n_val=0 if val is None else len(val[0]),
    )
    y_dtype = TARGET_DTYPES[raw.task]
    scaler = None
    if raw.input_kind == "values":
        mean, std = fit_scaler(raw.x)
        scaler = Scaler(torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(std.astype(np.float32)))

    def inputs(x: np.ndarray) -> torch.Tensor:
        if scaler is None:  # ids: embedded by the model, never standardized
            return torch.from_numpy(np.ascontiguousarray(x)).to(INPUT_DTYPES[raw.input_kind])
        return torch.from_numpy(np.ascontiguousarray(standardize(x, mean, std), dtype=np.float32))

    def split(x: np.ndarray, y: np.ndarray, part: str) -> Split:
        return Split(inputs(x), torch.as_tensor(np.asarray(y)).to(y_dtype), info, part, scaler)

    return ValidatedSplits(split(raw.x, raw.y, "train"), None if val is None else split(*val, "val"),
                           split(raw.x_test, raw.y_test, "test"))


def _read(source: Source) -> RawData:
    options = dict(source.options)
    if source.kind == "builtin":
        return BUILTINS[source.ref].make(**options)
    if source.kind == "csv":
        return files.read_csv(source.ref, source.target)
    if source.kind == "text":
        return read_text(source.ref, **options)
    if source.kind == "ratings":
        return read_ratings(source.ref)
    return files.read_npz(source.ref)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _load_source(source: Source, validation: float | str = 0.0, stamp: tuple[int, int] = (0, 0)) -> ValidatedSplits:
    """``stamp``: the validation file's, so that an edited file loads afresh."""
    raw = _read(source)
    if isinstance(validation, str):
        return _to_splits(raw, from_file(raw, source.kind, source.ref, source.target, validation))
    if validation > 0:
        raw, x_val, y_val = hold_out(raw, validation)
        return _to_splits(raw, (x_val, y_val))
    return _to_splits(raw)


def load(name: str, **options: object) -> Splits:
    """Load a dataset by name: ``train, test = initopt.data.load("digits")``.

    Args:
        name: a built-in (``names()``: ``breast-cancer``, ``digits``, ``digits-images``,
            ``mnist1d``, ``modular-addition``, ``seed-binary``, ``synthetic-ratings``; any case,
            ``_`` or ``-``), ``csv:PATH:TARGET_COLUMN``, ``PATH.npz``, ``text:PATH`` or
            ``ratings:PATH``.
        options: the dataset's options (``options_of(name)``), e.g. ``load("modular-addition",
            p=113)``; omitted ones take their defaults. See docs/data.md.

    Returns:
        ``Splits(train, test)``; ``.info`` describes the dataset. Real-valued features are
        standardized with the train split's per-feature mean and std (a constant feature gets
        std 1); the fitted ``Scaler`` is ``train.scaler``. Token and id inputs are int64, as given.

    Results are cached in the process: later calls with the same name and options (and an
    unchanged file) return the very same tensors. Do not modify them in place; clone first.

    Raises:
        ValueError: unknown name (with the closest valid one), or an option the dataset does not
            take or a bad option value (``OptionError``, naming the option).
        DataError: a data file is missing or unusable (the message names file, column and line).
    """
    return _plain(resolve(name, **options))


@functools.lru_cache(maxsize=CACHE_SIZE)
def _plain(source: Source) -> Splits:
    """The train and test parts without a validation split: one cached object per source."""
    train, _, test = _load_source(source, 0.0, (0, 0))  # the key load_validated(name, 0) uses
    return Splits(train, test)


def load_validated(name: str, validation: float | str = DEFAULT_FRACTION, **options: object) -> ValidatedSplits:
    """``load`` with a validation split held out of the training data: ``train, val, test``.

    ``validation``: a fraction of the training rows (stratified for classification, fixed seed), 0
    for none (``val`` is ``None``), or the user's own validation data: a CSV file with the training
    file's columns, or ``"npz"`` for an ``.npz`` dataset's ``x_val``/``y_val`` arrays
    (``initopt.data.validation``). The training rows that remain are what the inputs are
    standardized with. A file path is taken as written (relative to the working directory).
    """
    try:
        validation = check_fraction(validation)
    except ValueError as exc:
        raise OptionError("validation", str(exc)) from None
    source, stamp = resolve(name, **options), (0, 0)
    if isinstance(validation, str) and validation != "npz":
        try:
            stamp = _stamp(validation)  # a missing file, named
        except DataError as exc:
            raise ValidationError(str(exc)) from None
    return _load_source(source, validation, stamp)


def describe(name: str, **options: object) -> DatasetInfo:
    """The ``DatasetInfo`` of ``name`` (loads it, so the sizes are exact)."""
    return load(name, **options).info


def clear_cache() -> None:
    """Forget the in-process cache (the mnist1d disk cache stays)."""
    _load_source.cache_clear()
    _plain.cache_clear()
