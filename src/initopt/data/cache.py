"""A disk cache for generated arrays (mnist1d takes seconds to generate; loading it takes ms).

Files live in ``$INITOPT_CACHE`` or else ``$XDG_CACHE_HOME/initopt`` or ``~/.cache/initopt``, one
``.npz`` per (stem, parameters): the name carries a hash of the parameters and the file stores them
too, so a change of generator arguments or package version builds a new file. Writes go to a
temporary file in the same folder and are renamed into place (atomic on POSIX and Windows), so a
crashed or concurrent writer never leaves a half-written cache file under the final name. A file
that cannot be read back (truncated, corrupt, other parameters) is rebuilt and overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

CACHE_ENV = "INITOPT_CACHE"
# Stored in each file so a reader can check the file was built for exactly these parameters.
PARAMS_KEY = "__params__"
# 16 hex digits (64 bits) keep names short; the stored parameters rule out collisions anyway.
HASH_CHARS = 16

Arrays = dict[str, np.ndarray]


def cache_dir() -> Path:
    """The cache folder, read from the environment at each call (tests point it elsewhere)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "initopt"


def params_json(params: Mapping[str, object]) -> str:
    """The canonical text of ``params`` (sorted keys), which the cache key hashes."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def cache_path(stem: str, params: Mapping[str, object]) -> Path:
    """Where the arrays for ``stem`` built with ``params`` are cached."""
    digest = hashlib.sha256(params_json(params).encode()).hexdigest()[:HASH_CHARS]
    return cache_dir() / f"{stem}-{digest}.npz"


def _read(path: Path, params: Mapping[str, object], keys: tuple[str, ...]) -> Arrays | None:
    """The cached arrays, or None when the file is missing, unreadable or for other parameters."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            if PARAMS_KEY not in stored.files or str(stored[PARAMS_KEY]) != params_json(params):
                return None
            return {key: stored[key] for key in keys}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def _write(path: Path, params: Mapping[str, object], arrays: Arrays) -> None:
    """Write ``arrays`` to ``path`` atomically; warn (not fail) where the folder is not writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays, **{PARAMS_KEY: np.array(params_json(params))})
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        warnings.warn(
            f"initopt: cannot write the data cache {path} ({exc}); set ${CACHE_ENV} to a writable folder",
            RuntimeWarning,
            stacklevel=3,
        )


def load_or_build(
    stem: str, params: Mapping[str, object], keys: tuple[str, ...], build: Callable[[], Arrays]
) -> Arrays:
    """The arrays ``keys`` for (``stem``, ``params``): from the cache, else ``build()`` and store them.

    ``params`` must be JSON-serializable and determine ``build()``'s output completely.
    """
    path = cache_path(stem, params)
    cached = _read(path, params, keys)
    if cached is not None:
        return cached
    arrays = build()
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise KeyError(f"cache build for {stem!r} did not return arrays {missing}")
    arrays = {k: arrays[k] for k in keys}
    _write(path, params, arrays)
    return arrays
