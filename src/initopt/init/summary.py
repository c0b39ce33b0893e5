"""What ``initialize`` did, as plain records, and two renderings of them (text and rich)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["InitRecord", "InitSummary", "SkippedParam"]

_ROOT = "(root)"  # how the top-level module (qualified name "") is shown


@dataclass(frozen=True)
class InitRecord:
    """One initialized parameter.

    ``layer`` is the module's qualified name ("" for the root module), ``scheme`` the scheme's repr,
    ``fan_in``/``fan_out`` the fans the scheme was given (None for norm layers), ``expected_std``
    the scheme's theoretical std for them (None where undefined), ``actual_std`` the population std
    of the resulting values, ``rule`` the rules key that chose the scheme (None: the defaults),
    ``role`` the parameter's role in the model (``initopt.init.roles.Role``'s value: ``"weight"``,
    ``"head"``, ``"residual"``, ``"embedding"``, ``"bias"``, ``"norm_weight"``, ``"norm_bias"``).
    """

    layer: str
    module_type: str
    parameter: str
    shape: tuple[int, ...]
    scheme: str
    fan_in: int | None
    fan_out: int | None
    expected_std: float | None
    actual_std: float
    rule: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class SkippedParam:
    """A parameter ``initialize`` left as it was, and why."""

    layer: str
    module_type: str
    parameter: str
    shape: tuple[int, ...]
    reason: str


_COLUMNS = ("layer", "type", "param", "role", "shape", "scheme", "fan_in", "fan_out", "expected std", "actual std", "rule")


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or math.isnan(value):
        return f"{value:g}"
    return f"{value:.4g}"


def _cells(row: InitRecord) -> tuple[str, ...]:
    return (
        row.layer or _ROOT,
        row.module_type,
        row.parameter,
        row.role or "",
        "x".join(map(str, row.shape)) or "()",
        row.scheme,
        "-" if row.fan_in is None else str(row.fan_in),
        "-" if row.fan_out is None else str(row.fan_out),
        _number(row.expected_std),
        _number(row.actual_std),
        row.rule or "",
    )


@dataclass
class InitSummary:
    """Records of one ``initialize`` call: ``rows`` (initialized) and ``skipped`` (left as is)."""

    rows: list[InitRecord] = field(default_factory=list)
    skipped: list[SkippedParam] = field(default_factory=list)
    seed: int | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The initialized rows as plain dicts (shape as a list), e.g. for JSON or a DataFrame."""
        return [{**asdict(row), "shape": list(row.shape)} for row in self.rows]

    def __str__(self) -> str:
        table = [_COLUMNS, *map(_cells, self.rows)]
        widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        for skip in self.skipped:
            lines.append(f"skipped {skip.layer or _ROOT}.{skip.parameter} ({skip.module_type}): {skip.reason}")
        return "\n".join(lines)

    def __rich__(self) -> Table:
        from rich.table import Table  # rich is only needed when someone prints the summary with it

        caption = "; ".join(f"skipped {s.layer or _ROOT}.{s.parameter}: {s.reason}" for s in self.skipped) or None
        title = "initialization" + ("" if self.seed is None else f" (seed {self.seed})")
        table = Table(title=title, caption=caption)
        for column in _COLUMNS:
            numeric = column in ("fan_in", "fan_out", "expected std", "actual std")
            table.add_column(column, justify="right" if numeric else "left")
        for row in self.rows:
            table.add_row(*_cells(row))
        return table
