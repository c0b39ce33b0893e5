"""Terminal output, decided in one place: a live bar or plain lines, and tables that fit the width.

A bar redrawn in place is for a person at a terminal. A pipe, a file or a CI log gets plain lines
instead, one at the start, one every ``PLAIN_SECONDS`` and one at the end, with no escape codes and no
carriage returns: ``[study] 1,200/18,150 steps, 40/150 configurations, 12.3 s, ETA 30.1 s``.

Tables take the width rich finds (``COLUMNS``, else the terminal's, else 80 in a log). When that is
too narrow they drop their low-value columns first, then wrap; a cell is folded onto the next line,
never cut with an ellipsis, so no hyperparameter disappears.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions
    from rich.table import Table

PLAIN_SECONDS = 10.0  # a plain progress line at most this often: a steady pulse in a log, not a flood


def live(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stderr) is a terminal that can redraw a line in place."""
    stream = stream or sys.stderr
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a wrapped or closed stream
        return False


def console(stderr: bool = False) -> Console:
    """A rich console on stdout (tables) or stderr (progress, notices)."""
    from rich.console import Console

    return Console(stderr=stderr)


def width() -> int:
    """The width tables and wrapped text are laid out for."""
    return console().width


# ------------------------------------------------------------------------------------------- tables


def new_table(title: str | None = None, caption: str | None = None) -> Table:
    """The look of every table: a rule under the header, no vertical lines and two spaces between
    columns (a box line and a padding on each side would cost three characters a column)."""
    from rich import box
    from rich.table import Table

    return Table(title=title, caption=caption, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1),
                 collapse_padding=True)


class Fit:
    """``table`` drawn at the width it is given: while its natural width is wider, the columns named
    in ``drop`` go, in that order (the low-value ones); then rich wraps what is left (a column kept
    on one line wraps too, if it must). Every column folds an over-long word instead of cutting it
    with an ellipsis."""

    def __init__(self, table: Table, drop: Sequence[str] = ()):
        self.table, self.drop = table, tuple(drop)

    def fitted(self, console: Console, max_width: int) -> Table:
        """The table without as few of the ``drop`` columns as ``max_width`` allows."""
        from rich.measure import Measurement

        for n in range(len(self.drop) + 1):
            table = self._without(self.drop[:n])
            if Measurement.get(console, console.options.update_width(10_000), table).maximum <= max_width:
                return table
        for column in table.columns:  # still too wide: every cell may wrap and fold, none is cropped
            column.no_wrap = False
        return table

    def _without(self, headers: Sequence[str]) -> Table:
        table = copy.copy(self.table)
        table.columns = [copy.copy(column) for column in self.table.columns if column.header not in headers]
        for index, column in enumerate(table.columns):
            column._index = index  # rich pads the first and the last column by this index
            column.overflow = "fold"
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Table]:
        yield self.fitted(console, options.max_width)


# ----------------------------------------------------------------------------------------- progress


class Progress:
    """Progress of a long command: a rich bar on a terminal, else plain lines at a steady pace.

    ``with Progress("bench", "paths") as bar: bar.start(6); ...; bar.update(advance=1, detail="foreach")``
    """

    def __init__(self, name: str, unit: str, stream: TextIO | None = None, every: float = PLAIN_SECONDS):
        self.name, self.unit, self.every = name, unit, every
        self.stream = stream or sys.stderr
        self.total = self.done = 0
        self.detail = ""
        self._started = self._printed = 0.0
        self._shown: tuple[int, str] | None = None  # (done, detail) of the last plain line
        self._bar = self._task = None
        if live(self.stream):
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                TextColumn(unit), TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=Console(file=self.stream),
            )  # fmt: skip

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif kind is None and self.total and (self.done, self.detail) != self._shown:
            self._line()

    def start(self, total: int, detail: str = "") -> None:
        """``total`` units of work begin now."""
        self.total, self.done, self.detail = total, 0, detail
        self._started = time.perf_counter()
        if self._bar is not None:
            self._task = self._bar.add_task(self.name, total=max(total, 1), detail=detail)
        elif total:
            self._line()

    def update(self, advance: int = 0, detail: str | None = None) -> None:
        """``advance`` more units done; ``detail``: what is under way (``3/10 configurations``)."""
        self.done += advance
        self.detail = self.detail if detail is None else detail
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=advance, detail=self.detail)
        elif self.total and time.perf_counter() - self._printed >= self.every:
            self._line()

    def note(self, text: str) -> None:
        """A message of its own line, above the bar on a terminal."""
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def plain_line(self) -> str:
        """``[study] 1,200/18,150 steps, 40/150 configurations, 12.3 s, ETA 30.1 s``."""
        from initopt.report.fmt import seconds

        elapsed = time.perf_counter() - self._started
        text = f"[{self.name}] {self.done:,}/{self.total:,} {self.unit}"
        text += f", {self.detail}" if self.detail else ""
        text += f", {seconds(elapsed)}"
        if 0 < self.done < self.total:
            text += f", ETA {seconds(elapsed / self.done * (self.total - self.done))}"
        return text

    def _line(self) -> None:
        self._printed, self._shown = time.perf_counter(), (self.done, self.detail)
        print(self.plain_line(), file=self.stream, flush=True)
