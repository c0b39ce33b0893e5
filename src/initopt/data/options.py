"""Dataset options (``p``, ``context``, ``n_users``, ...): declared as data, checked in one place.

A dataset that takes options declares a tuple of ``Option`` rows; ``resolve_options`` checks what a
user gave against them and fills in the defaults. The study spec (``[workload.data]``), the CLI
(``initopt train --data-option``) and ``initopt.data.load(name, **options)`` all come through it, so an error
names the same option the same way wherever it was written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from initopt._suggest import did_you_mean, is_number, is_whole_number

Value = int | float


class OptionError(ValueError):
    """A dataset option is unknown or has a bad value; ``option`` names it (``""``: all of them)."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Option:
    """One option of a dataset: its name, default, type (``int`` or ``float``) and valid values.

    ``valid(value)`` says whether a value of the right type is allowed; ``rule`` says so in words
    for the error message (``">= 2"``, ``"in (0, 1)"``).
    """

    name: str
    default: Value
    kind: type
    valid: Callable[[Value], bool]
    rule: str
    help: str

    def check(self, value: object, dataset: str) -> Value:
        """``value`` as this option's type; OptionError naming the option, the value and the rule."""
        if self.kind is int:
            ok_type = is_whole_number(value) or (is_number(value) and float(value).is_integer())
        else:
            ok_type = is_number(value) and math.isfinite(value)
        what = "a whole number" if self.kind is int else "a finite number"
        if not ok_type:
            raise OptionError(self.name, f"dataset {dataset!r} option {self.name!r}: expected {what} {self.rule}, got {value!r}")
        value = self.kind(value)
        if not self.valid(value):
            raise OptionError(self.name, f"dataset {dataset!r} option {self.name!r}: must be {self.rule}, got {value!r}")
        return value


def resolve_options(dataset: str, declared: tuple[Option, ...], given: Mapping[str, object]) -> dict[str, Value]:
    """Every declared option of ``dataset``, with ``given``'s values checked and the defaults filled in.

    Raises:
        OptionError: an option ``dataset`` does not take (listing those it does), or a bad value.
    """
    by_name = {o.name: o for o in declared}
    for key in given:
        if not by_name:
            raise OptionError(str(key), f"dataset {dataset!r} takes no options, got {key!r}")
        if key not in by_name:
            raise OptionError(str(key), f"dataset {dataset!r} has no option {key!r}{did_you_mean(str(key), by_name)} "
                                        f"valid: {', '.join(by_name)}")
    return {o.name: o.check(given[o.name], dataset) if o.name in given else o.default for o in declared}


def describe_options(options: Mapping[str, Value]) -> str:
    """``"p=97, train_fraction=0.4"`` for descriptions."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in options.items())
