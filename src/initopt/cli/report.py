"""``initopt study report``: write a study's report (HTML, or Markdown with PNGs and a CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_DB = Path("initopt.db")


def report(
    db: Annotated[Path, typer.Option("--db", help="SQLite file holding the studies.")] = DEFAULT_DB,
    study: Annotated[str | None, typer.Option("--study", help="Study name (optional when the file holds one study).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="File to write. Default: report.html (or report.md).")] = None,
    format: Annotated[str, typer.Option("--format", help="html (one self-contained file) or markdown (PNGs and CSV beside it).")] = "html",
) -> None:
    """Which combination wins, by how much, and why: recommendation, leaderboard, plots, importance."""
    from initopt._terminal import width
    from initopt.report import FORMATS, load_report, save_report
    from initopt.report.text import summary_lines

    if format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not db.is_file():
        raise ValueError(f"--db {db}: no such database file (run a study first, or pass --db)")
    computed = load_report(db, study)
    path = save_report(computed, out, format)
    for line in summary_lines(computed, width()):
        print(line)
    print(f"Report written to {path.resolve()}")
