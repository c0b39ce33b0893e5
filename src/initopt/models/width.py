"""A model's width as one number: what a width axis (a study's ``width``, the doctor's coordinate check) sets.

=============  =================================================================
model          the options ``width`` sets
=============  =================================================================
mlp            ``hidden``: every hidden layer this wide (its depth kept)
deep-mlp       ``width``
transformer    ``d_model`` (the MLP's 4 d_model and the heads' width follow)
cnn1d, cnn2d   ``channels``: every block this many (its number of blocks kept)
mf             ``dim``
a factory      ``width=`` passed to it
=============  =================================================================

``with_depth`` sets the number of hidden layers the same way (mlp, deep-mlp, transformer's
``layers``, cnn2d, a factory's ``depth=``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_HIDDEN = (64,)


def with_width(model: str, options: Mapping[str, Any], width: int) -> dict[str, Any]:
    """``options`` of ``model`` with its width set to ``width``."""
    if not (isinstance(width, int) and not isinstance(width, bool) and width >= 1):
        raise ValueError(f"width must be a whole number >= 1, got {width!r}")
    key = model.strip().lower().replace("_", "-")
    out = dict(options)
    if key == "mlp":
        out["hidden"] = [width] * len(options.get("hidden", DEFAULT_HIDDEN))
    elif key == "deep-mlp":
        out["width"] = width
    elif key == "transformer":
        out["d_model"] = width
    elif key in ("cnn1d", "cnn2d"):
        channels = options.get("channels")
        out["channels"] = [width] * len(channels) if isinstance(channels, (list, tuple)) else width
    elif key == "mf":
        out["dim"] = width
    elif ":" in model:
        out["width"] = width
    else:
        raise ValueError(f"model {model!r} has no width to set")
    return out


def with_depth(model: str, options: Mapping[str, Any], depth: int) -> dict[str, Any]:
    """``options`` of ``model`` with ``depth`` hidden layers (mlp: the first hidden size repeated;
    deep-mlp, cnn2d: ``depth``; transformer: ``layers``; a factory: ``depth=``)."""
    if not (isinstance(depth, int) and not isinstance(depth, bool) and depth >= 1):
        raise ValueError(f"depth must be a whole number >= 1, got {depth!r}")
    key = model.strip().lower().replace("_", "-")
    out = dict(options)
    if key == "mlp":
        out["hidden"] = [list(options.get("hidden", DEFAULT_HIDDEN))[0]] * depth
    elif key in ("deep-mlp", "cnn2d") or ":" in model:
        out["depth"] = depth
    elif key == "transformer":
        out["layers"] = depth
    else:
        raise ValueError(f"model {model!r} has no depth to set")
    return out
