"""User data from files: ``csv:PATH:TARGET`` and ``PATH.npz``.

CSV: comma-separated, UTF-8 (a BOM is fine), a header row naming the columns; ``TARGET`` is the
target column, every other column is a numeric feature. Blank lines are skipped; line numbers in
messages are the file's own (header = line 1).

npz (``numpy.savez``): arrays ``x`` (shape ``(n, features)``, ``(n, length, ...)`` or images
``(n, C, H, W)``, see ``initopt.data.images``) and ``y`` (``(n,)``), optionally ``x_test`` and
``y_test``; without them an 80/20 split is made (``initopt.data.splitting``).

The target's task is inferred by ``initopt.data.targets.encode_target``. Anything unusable raises
``DataError`` naming the file, the column or array, and the line or index.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from initopt.data.errors import DataError, did_you_mean
from initopt.data.images import check_image_array, object_array_error
from initopt.data.splitting import MIN_ROWS_PER_SPLIT, SPLIT_NAME, SPLIT_SEED, split_indices
from initopt.data.targets import Target, encode_target
from initopt.data.types import RawData

NPZ_TRAIN = ("x", "y")
NPZ_TEST = ("x_test", "y_test")
NPZ_HOWTO = "write it with numpy.savez(path, x=..., y=...)"


def _split_description(given_test: bool, task: str) -> str:
    if given_test:
        return "test set as given"
    kind = "random" if task == "regression" else "stratified"
    return f"{kind} {SPLIT_NAME} split, seed {SPLIT_SEED}"


def _target_summary(target: Target) -> str:
    if target.task == "regression":
        return "regression"
    shown = ", ".join(f"{c!r}={i}" for i, c in enumerate(target.classes[:4]))
    more = ", ..." if len(target.classes) > 4 else ""
    return f"{target.task}: {shown}{more}"


def _split_raw(name: str, where: str, x: np.ndarray, target: Target, what: str) -> RawData:
    """Split (x, encoded target) 80/20 and describe it."""
    train, test = split_indices(
        target.y, stratify=target.task != "regression", where=where, classes=target.classes
    )
    return RawData(
        name=name,
        task=target.task,
        x=x[train],
        y=target.y[train],
        x_test=x[test],
        y_test=target.y[test],
        description=f"{what} ({_target_summary(target)}); {_split_description(False, target.task)}",
        classes=target.classes,
    )


# --- CSV ---------------------------------------------------------------------------------------
def read_rows(path: Path, where: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, data rows and each row's line number; checks emptiness and ragged rows."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header: list[str] | None = None
            rows, lines = [], []
            for row in reader:
                if not row:  # a blank line
                    continue
                if header is None:
                    header = [h.strip() for h in row]
                    header_line = reader.line_num
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{where}: line {reader.line_num} has {len(row)} fields but the header "
                        f"(line {header_line}) has {len(header)}"
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise DataError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV") from exc
    except csv.Error as exc:
        raise DataError(f"{where}: not a readable CSV file ({exc})") from exc
    except OSError as exc:  # permissions, a vanished file: say which file, in our format
        raise DataError(f"{where}: cannot read ({exc.strerror or exc})") from exc
    if header is None:
        raise DataError(f"{where}: empty file; expected a header row naming the columns, then data rows")
    if not rows:
        raise DataError(f"{where}: no data rows after the header (line {header_line})")
    return header, rows, lines


def bad_cell(cell: str) -> str | None:
    """Why ``cell`` is not a usable number, or None if it is one."""
    if not cell.strip():
        return "empty cell"
    try:
        value = float(cell)
    except ValueError:
        return f"{cell.strip()!r} is not a number"
    if not np.isfinite(value):
        return f"{cell.strip()!r} is not a finite number (NaN and inf are not allowed)"
    return None


def numeric_column(cells: list[str], lines: list[int], where: str) -> np.ndarray:
    """``cells`` as float64; on failure, blame the first bad cell by line (``where`` names the column)."""
    try:
        values = np.array(cells, dtype=np.float64)
        if np.isfinite(values).all():
            return values
    except ValueError:
        pass
    for cell, line in zip(cells, lines):
        reason = bad_cell(cell)
        if reason is not None:
            raise DataError(f"{where}, line {line}: {reason}")
    raise AssertionError("unreachable: a column failed to parse but no cell is bad")


def _target_values(cells: list[str], lines: list[int], where: str) -> np.ndarray:
    """The target column as numbers if every cell is one, else as string labels."""
    cells = [c.strip() for c in cells]
    for cell, line in zip(cells, lines):
        if not cell:
            raise DataError(f"{where}, line {line}: empty cell (every row needs a target)")
    numeric = [bad_cell(c) is None for c in cells]
    if all(numeric):
        return np.array(cells, dtype=np.float64)
    if not any(numeric):
        return np.array(cells, dtype=str)
    # Mixed: one of them is a typo or a missing-value marker ("NA", "nan", "?"); say where both are.
    first_text = next(i for i, ok in enumerate(numeric) if not ok)
    first_number = next(i for i, ok in enumerate(numeric) if ok)
    problem = bad_cell(cells[first_text])
    raise DataError(
        f"{where}, line {lines[first_text]}: {problem}, but line {lines[first_number]} holds the "
        f"number {cells[first_number]!r}; a target column is either all numbers or all labels"
    )


def read_csv_like(path_text: str, like: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, target values)`` of every row of ``path_text`` (a validation file), unsplit and unencoded,
    after checking that it has the columns of the CSV file ``like``, in the same order."""
    header = read_rows(Path(like).expanduser(), like)[0]
    x, values, _, found = _csv_columns(path_text, target)
    if found != header:
        raise DataError(f"{path_text}: columns {', '.join(map(repr, found))} differ from {like}'s "
                        f"{', '.join(map(repr, header))}; a validation file has the training file's columns, in order")
    return x, values


def _csv_columns(path_text: str, target: str) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    """Features, the raw target column, a description of ``path_text`` and its header."""
    path, where = Path(path_text).expanduser(), path_text
    header, rows, lines = read_rows(path, where)
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise DataError(f"{where}: column name {dup!r} appears more than once in the header")
    if target not in header:
        raise DataError(
            f"{where}: no target column {target!r}{did_you_mean(target, header)} "
            f"the columns are: {', '.join(repr(h) for h in header)}"
        )
    if len(header) < 2:
        raise DataError(f"{where}: the only column is the target {target!r}; there are no feature columns")
    columns = list(zip(*rows))
    t = header.index(target)
    values = _target_values(list(columns[t]), lines, f"{where}: column {target!r}")
    features = [
        numeric_column(list(col), lines, f"{where}: column {name!r}")
        for j, (name, col) in enumerate(zip(header, columns))
        if j != t
    ]
    x = np.stack(features, axis=1)
    return x, values, f"CSV {path.name}, {len(rows)} rows x {x.shape[1]} features, target {target!r}", header


def read_csv(path_text: str, target: str) -> RawData:
    """Load ``path_text`` (header row required) with column ``target`` as the target."""
    x, values, what, _ = _csv_columns(path_text, target)
    encoded = encode_target(values, f"{path_text}: column {target!r}")
    return _split_raw(f"csv:{path_text}:{target}", path_text, x, encoded, what)


# --- npz ---------------------------------------------------------------------------------------
def _npz_arrays(path: Path, where: str) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{where}: not a readable .npz file ({exc}); {NPZ_HOWTO}") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(f"{where}: holds a single array, not named arrays; {NPZ_HOWTO}")
    with loaded:
        arrays = {}
        for key in loaded.files:
            try:
                arrays[key] = loaded[key]
            except ValueError as exc:  # object arrays need pickle, which we do not load
                raise object_array_error(key, where) from exc
    return arrays


def _check_finite(a: np.ndarray, name: str, where: str) -> None:
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise DataError(
            f"{where}: array {name!r}, index {list(index)}: {a[index]} is not finite (NaN and inf are not allowed)"
        )


def _check_pair(x: np.ndarray, y: np.ndarray, names: tuple[str, str], where: str) -> np.ndarray:
    """Validate one (x, y) pair; returns y as 1-D."""
    xn, yn = names
    if x.ndim < 2:
        raise DataError(
            f"{where}: array {xn!r} has shape {x.shape}; expected (n_rows, n_features, ...) "
            "(for one feature use x[:, None])"
        )
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: array {xn!r} has dtype {x.dtype}; features must be numbers")
    check_image_array(x, xn, where)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{where}: array {yn!r} has shape {y.shape}; expected (n_rows,)")
    if len(x) != len(y):
        raise DataError(f"{where}: array {xn!r} has {len(x)} rows but {yn!r} has {len(y)}")
    if y.dtype.kind not in "biufUS":
        raise DataError(f"{where}: array {yn!r} has dtype {y.dtype}; a target must be numbers or strings")
    _check_finite(x, xn, where)
    _check_finite(y, yn, where)
    return y.astype(str) if y.dtype.kind == "S" else y


def read_npz_pair(path_text: str, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """The arrays ``names`` (an ``(x, y)`` pair such as ``x_val``, ``y_val``) of ``path_text``, checked."""
    arrays = _npz_arrays(Path(path_text).expanduser(), path_text)
    for key in names:
        if key not in arrays:
            found = ", ".join(repr(k) for k in arrays) or "none"
            raise DataError(f"{path_text}: no array {key!r}{did_you_mean(key, arrays)} the arrays are: {found}")
    return arrays[names[0]], _check_pair(arrays[names[0]], arrays[names[1]], names, path_text)


def read_npz(path_text: str) -> RawData:
    """Load arrays ``x``, ``y`` (and optionally ``x_test``, ``y_test``) from ``path_text``."""
    path, where = Path(path_text).expanduser(), path_text
    arrays = _npz_arrays(path, where)
    for key in NPZ_TRAIN:
        if key not in arrays:
            found = ", ".join(repr(k) for k in arrays) or "none"
            raise DataError(f"{where}: no array {key!r}{did_you_mean(key, arrays)} the arrays are: {found}")
    present = [k for k in NPZ_TEST if k in arrays]
    if len(present) == 1:
        other = next(k for k in NPZ_TEST if k not in arrays)
        raise DataError(f"{where}: has {present[0]!r} but no {other!r}; give both test arrays or neither")
    x, y = arrays["x"], _check_pair(arrays["x"], arrays["y"], NPZ_TRAIN, where)
    what = f"npz {path.name}, {len(x)} rows, input shape {tuple(x.shape[1:])}"
    if not present:
        return _split_raw(path_text, where, x, encode_target(y, f"{where}: array 'y'"), what)
    x_test, y_test = arrays["x_test"], _check_pair(arrays["x_test"], arrays["y_test"], NPZ_TEST, where)
    if x_test.shape[1:] != x.shape[1:]:
        raise DataError(f"{where}: 'x_test' rows have shape {x_test.shape[1:]} but 'x' rows have {x.shape[1:]}")
    for name, a in (("x", x), ("x_test", x_test)):
        if len(a) < MIN_ROWS_PER_SPLIT:
            raise DataError(f"{where}: array {name!r} has too few rows ({len(a)}); need at least {MIN_ROWS_PER_SPLIT}")
    # Encode both parts together so a label means the same class index in both.
    encoded = encode_target(np.concatenate([y, y_test]), f"{where}: arrays 'y' and 'y_test'")
    return RawData(
        name=path_text,
        task=encoded.task,
        x=x,
        y=encoded.y[: len(y)],
        x_test=x_test,
        y_test=encoded.y[len(y):],
        description=f"{what} ({_target_summary(encoded)}); {_split_description(True, encoded.task)}",
        classes=encoded.classes,
    )
