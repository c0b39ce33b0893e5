"""``initopt study run | list | show | export``."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from initopt.study.store.sqlite import DEFAULT_DB as STORE_DEFAULT_DB

app = typer.Typer(help="Run a grid of init x optimizer x hyperparameters x seeds, stored in SQLite.", no_args_is_help=True)

DbOption = Annotated[Path, typer.Option("--db", help="SQLite file holding the studies.")]
DEFAULT_DB = Path(STORE_DEFAULT_DB)
TABLE_WIDTH = 120  # when stdout is not a terminal (a pipe, a log file), rich would otherwise wrap at 80


@app.command("run")
def run(
    spec: Annotated[Path | None, typer.Argument(help="Study spec (.toml/.yaml). Default: the built-in default study.")] = None,
    db: DbOption = DEFAULT_DB,
    engine: Annotated[str, typer.Option(help="bundled (configurations trained together) or sequential (one by one).")] = "bundled",
    max_bundle: Annotated[int | None, typer.Option("--max-bundle", help="At most this many configurations per bundle.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Run configurations that failed before again.")] = False,
    report_path: Annotated[Path | None, typer.Option("--report", help="Where to write the HTML report (default STUDY-report.html).")] = None,
) -> None:
    """Run (or resume) a study: finished configurations are skipped, interrupted ones re-run; ends with the
    ranked table and an HTML report."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from initopt.cli.render import summary_table
    from initopt.study import default_spec_path
    from initopt.study.runner import ProgressEvents, run_study

    console = Console(stderr=True)
    path = spec or default_spec_path()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[configs]} configs"),
        TextColumn("{task.fields[speed_text]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    state = {"done": 0, "total": 0, "task": None}

    def start(n_configs: int, total_steps: int) -> None:
        state["total"] = n_configs
        state["task"] = progress.add_task("training", total=max(total_steps, 1), configs=f"0/{n_configs}", speed_text="")

    def steps(n: int) -> None:
        task = progress.tasks[state["task"]]
        progress.advance(state["task"], n)
        rate = task.speed
        progress.update(state["task"], speed_text=f"{rate:,.0f} steps/s" if rate else "")

    def configs_done(n: int) -> None:
        state["done"] += n
        progress.update(state["task"], configs=f"{state['done']}/{state['total']}")

    events = ProgressEvents(start=start, steps=steps, configs_done=configs_done, notice=lambda text: console.print(f"[yellow]notice:[/] {text}"))
    with progress:
        report = run_study(path, db=db, engine=engine, max_bundle=max_bundle, device=device, retry_failed=retry_failed,
                           events=events)
    out = Console(width=None if sys.stdout.isatty() else TABLE_WIDTH)
    if report.skipped:
        out.print(f"{report.skipped} of {report.n_configs} configurations were already finished in {db}; trained {report.trained}.")
    out.print(summary_table(db, report.study))
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts.items()))
    out.print(f"Study {report.study!r}: {report.trained} configurations run in {report.seconds:.1f}s ({report.engine} engine); "
              f"{counts}. Results: {db.resolve()}", markup=False, highlight=False)
    if report.first_error:
        out.print(f"First error: {report.first_error} (run again with --retry-failed once fixed)", markup=False, highlight=False)
    from initopt.report import write_report

    default_name = re.sub(r"[^A-Za-z0-9._-]+", "_", report.study).strip("._") or "study"
    html = write_report(db, study=report.study, out=report_path or Path(f"{default_name}-report.html"))
    out.print(f"Report: {html.resolve()}", markup=False, highlight=False)


from initopt.cli.report import report as _report  # noqa: E402  (a command of this group)

app.command("report")(_report)


@app.command("list")
def list_studies(db: DbOption = DEFAULT_DB) -> None:
    """The studies in the database, with their configuration counts by status."""
    from rich.console import Console
    from rich.table import Table

    from initopt.study.store import SQLiteStore

    _require_db(db)
    table = Table(title=f"Studies in {db}")
    for column in ("study", "configs", "done", "diverged", "failed", "pending", "updated"):
        table.add_column(column, justify="right" if column not in ("study", "updated") else "left")
    with SQLiteStore(db) as store:
        for study in store.studies():
            counts = {status.value: n for status, n in store.counts(study.name).items()}
            pending = counts.get("pending", 0) + counts.get("running", 0)
            table.add_row(study.name, str(sum(counts.values())), str(counts.get("done", 0)), str(counts.get("diverged", 0)),
                          str(counts.get("failed", 0)), str(pending), study.updated)
    Console().print(table)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Study name.")], db: DbOption = DEFAULT_DB) -> None:
    """The ranked summary of one study."""
    from rich.console import Console

    from initopt.cli.render import summary_table

    _require_db(db)
    Console(width=None if sys.stdout.isatty() else TABLE_WIDTH).print(summary_table(db, name))


@app.command("export")
def export(
    db: DbOption = DEFAULT_DB,
    study: Annotated[str | None, typer.Option(help="Study name (optional when the file holds one study).")] = None,
    format: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """One row per configuration: id, init, optimizer, lr, weight_decay, seed, status, epochs_run, losses, metric."""
    from initopt.study.export import EXPORT_FORMATS, load, to_csv, to_json

    if format not in EXPORT_FORMATS:
        raise ValueError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    _require_db(db)
    records = load(db, study)
    text = to_csv(records) if format == "csv" else to_json(records)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"{len(records)} configurations written to {out}")


def _require_db(db: Path) -> None:
    if not db.is_file():
        raise ValueError(f"{db}: no such database file (run a study first, or pass --db)")

