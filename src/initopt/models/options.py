"""Checks of built-in models' options: each error is a ``ModelOptionError`` that names the option.

Study specs and the CLI pass options through unchanged (TOML gives ints, bools, strings and lists),
so the checks here are the boundary: ``workload.<option>`` in a spec error comes from ``option``.
``shared_options`` is the one place the options several built-ins share are put in their form; a user
factory ``package.module:function`` gets its options exactly as written, never through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from initopt._suggest import did_you_mean, is_whole_number


class ModelOptionError(ValueError):
    """A built-in model was given an option it does not take, or a value it cannot use; ``option`` names it."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


def is_factory(model: str) -> bool:
    """``package.module:function``: a user's factory, whose options are its own business."""
    return ":" in model


def shared_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options the built-ins share, checked and in the form they take: ``hidden`` a list of
    whole numbers >= 1 (one number is a list of one: ``hidden = 48`` is ``[48]``), ``depth`` and
    ``width`` whole numbers >= 1, ``activation`` a name. Other options pass as they are (each
    built-in checks its own). For the built-ins only: a user factory that takes ``hidden: int``
    must get the 48 it was given."""
    out = dict(options)
    if "hidden" in out:
        hidden = [out["hidden"]] if is_whole_number(out["hidden"]) else out["hidden"]
        if not isinstance(hidden, list) or not all(is_whole_number(h) and h > 0 for h in hidden):
            raise ModelOptionError("hidden", f"expected a list of positive whole numbers, got {options['hidden']!r}")
        out["hidden"] = hidden
    for key in ("depth", "width"):
        if key in out and (not is_whole_number(out[key]) or out[key] < 1):
            raise ModelOptionError(key, f"expected a whole number >= 1, got {out[key]!r}")
    if "activation" in out and not isinstance(out["activation"], str):
        raise ModelOptionError("activation", f"expected a name such as 'relu', got {out['activation']!r}")
    return out


def only(options: Mapping[str, Any], *allowed: str, model: str) -> dict[str, Any]:
    """``options`` as a dict, after checking every key is one of ``allowed``."""
    unknown_options = sorted(set(options) - set(allowed))
    if unknown_options:
        name = unknown_options[0]
        raise ModelOptionError(name, f"model {model!r} does not take option {name!r}{did_you_mean(name, allowed)} "
                                     f"(it takes: {', '.join(allowed)})")
    return dict(options)


def whole(model: str, option: str, value: object, minimum: int = 1) -> int:
    """``value`` if it is a whole number >= ``minimum`` (not a bool)."""
    if not is_whole_number(value) or value < minimum:  # type: ignore[operator]
        raise ModelOptionError(option, f"model {model!r}: option {option!r} must be a whole number >= {minimum}, got {value!r}")
    return int(value)  # type: ignore[arg-type]


def fraction(model: str, option: str, value: object) -> float:
    """``value`` if it is a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ModelOptionError(option, f"model {model!r}: option {option!r} must be a number in [0, 1), got {value!r}")
    return float(value)


def flag(model: str, option: str, value: object) -> bool:
    """``value`` if it is a bool (TOML/YAML true/false)."""
    if not isinstance(value, bool):
        raise ModelOptionError(option, f"model {model!r}: option {option!r} must be true or false, got {value!r}")
    return value


def sizes(model: str, option: str, value: object) -> list[int]:
    """A non-empty list of whole numbers >= 1."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ModelOptionError(option, f"model {model!r}: option {option!r} must be a non-empty list of whole numbers, got {value!r}")
    return [whole(model, option, item) for item in value]
