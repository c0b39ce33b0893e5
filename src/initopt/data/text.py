"""Character-level language modelling of a user's text file: ``text:PATH`` (option ``context``).

As in Karpathy's char-rnn and nanoGPT's ``shakespeare_char``: the vocabulary is the sorted distinct
characters of the file (Unicode code points; a character's id is its rank), the first 90% of the
characters are the train part and the last 10% the test part (split by position, so no test window
overlaps a training one), and an example is a window of ``context`` characters whose target at each
position is the character that follows:

    x = ids[s : s + T],   y = ids[s + 1 : s + T + 1],   s = 0, T, 2T, ...   (T = context)

Windows do not overlap (stride ``T``): every character of a part after its first is a target exactly
once, so an epoch is one pass over the text, and a partial window at a part's end is dropped. The
task is ``multiclass`` with per-token targets: ``x`` and ``y`` are int64 ``(n, T)``, the model emits
``(n, T, vocab_size)`` logits, and the loss and accuracy are means over every position.

The file is read as UTF-8 (a BOM is dropped); line ends are normalized to ``\\n`` as Python's text
mode does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from initopt.data.errors import DataError
from initopt.data.options import Option
from initopt.data.types import RawData

TEXT_PREFIX = "text:"
TRAIN_NUMERATOR, TRAIN_DENOMINATOR = 9, 10  # the first 90% of the characters train (integer arithmetic)
DEFAULT_CONTEXT = 64
TEXT_OPTIONS = (
    Option("context", DEFAULT_CONTEXT, int, lambda v: v >= 1, ">= 1", "characters per example (the sequence length T)"),
)


def min_characters(context: int) -> int:
    """The shortest text with one window in the test part: ``ceil(L / 10) >= T + 1``, i.e. ``L >= 10 T + 1``."""
    return TRAIN_DENOMINATOR * context + 1


def windows(ids: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows ``(x, y)``, each ``(n, context)``: ``y`` is ``x`` shifted by one character."""
    n = (len(ids) - 1) // context
    x = ids[: n * context].reshape(n, context)
    y = ids[1 : n * context + 1].reshape(n, context)
    return x, y


def _read(path: Path, where: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from exc
    except OSError as exc:
        raise DataError(f"{where}: cannot read ({exc.strerror or exc})") from exc


def encode(text: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """``(ids, vocabulary)``: each character's rank among the sorted distinct characters, as int64."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    vocab_codes, ids = np.unique(codes, return_inverse=True)
    return ids.astype(np.int64).reshape(-1), tuple(chr(c) for c in vocab_codes)


def read_text(path_text: str, context: int = DEFAULT_CONTEXT) -> RawData:
    """Windows of ``context`` characters of the file ``path_text`` and their next characters."""
    path, where = Path(path_text).expanduser(), path_text
    text = _read(path, where)
    need = min_characters(context)
    if not text:
        raise DataError(f"{where}: empty file; language modelling with context {context} needs at least {need} characters")
    if len(text) < need:
        n_test = len(text) - len(text) * TRAIN_NUMERATOR // TRAIN_DENOMINATOR
        raise DataError(
            f"{where}: {len(text)} characters are too few for context {context}: the last 10% ({n_test} characters) "
            f"must hold one window of {context + 1}; need at least {need} characters, or a smaller context"
        )
    ids, vocab = encode(text)
    if len(vocab) < 2:
        raise DataError(f"{where}: every character is {vocab[0]!r}; need at least 2 distinct characters")
    cut = len(ids) * TRAIN_NUMERATOR // TRAIN_DENOMINATOR
    x, y = windows(ids[:cut], context)
    x_test, y_test = windows(ids[cut:], context)
    return RawData(
        name=f"{TEXT_PREFIX}{path_text}",
        task="multiclass",
        x=x,
        y=y,
        x_test=x_test,
        y_test=y_test,
        description=(
            f"text {path.name}: {len(text)} characters, vocabulary of {len(vocab)}; non-overlapping windows of "
            f"{context} characters, target the next character at each position; first 90% train, last 10% test"
        ),
        classes=vocab,
        input_kind="tokens",
        vocab_size=len(vocab),
    )
