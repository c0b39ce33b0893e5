"""``initopt study run | list | show | export``."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from initopt.study.store.sqlite import DEFAULT_DB as STORE_DEFAULT_DB

app = typer.Typer(help="Run a grid of init x optimizer x hyperparameters x seeds, stored in SQLite.", no_args_is_help=True)

DbOption = Annotated[Path, typer.Option("--db", help="SQLite file holding the studies.")]
DEFAULT_DB = Path(STORE_DEFAULT_DB)


@app.command("run")
def run(
    spec: Annotated[Path | None, typer.Argument(help="Study spec (.toml/.yaml). Default: the built-in default study.")] = None,
    db: DbOption = DEFAULT_DB,
    engine: Annotated[str, typer.Option(help="bundled (configurations trained together) or sequential (one by one).")] = "bundled",
    max_bundle: Annotated[int | None, typer.Option("--max-bundle", help="At most this many configurations per bundle.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Run configurations that failed before again.")] = False,
    report_path: Annotated[Path | None, typer.Option("--report", help="Where to write the HTML report (default STUDY-report.html).")] = None,
    validation: Annotated[str | None, typer.Option(help="Override the spec's train.validation: a fraction of the training rows (0.2), 0 for none, or a validation file.")] = None,
    threads: Annotated[str | None, typer.Option(help="CPU threads for torch: a number, or auto (the cores other programs leave free; the default, unless the spec's train.threads or OMP_NUM_THREADS says otherwise).")] = None,
    checkpoint_every: Annotated[float, typer.Option("--checkpoint-every", help="Seconds between a bundle's checkpoints (written at epoch ends; 0: every epoch).")] = 5.0,
    ray: Annotated[str | None, typer.Option("--ray", help="Run the bundles on a Ray cluster: auto (the one this machine belongs to), HOST:PORT, or local (one started for this run). Needs initopt[ray].")] = None,
    cpus_per_bundle: Annotated[float | None, typer.Option("--cpus-per-bundle", help="With --ray: CPUs each bundle's task asks for (default 1).")] = None,
    gpus_per_bundle: Annotated[float | None, typer.Option("--gpus-per-bundle", help="With --ray: GPUs each bundle's task asks for, a fraction to share one (default: 1 where the cluster has GPUs, else 0).")] = None,
) -> None:
    """Run (or resume) a study: finished configurations are skipped, interrupted bundles go on from their
    last checkpoint; ends with the ranked table and an HTML report. Ctrl-C stops it, keeping what is saved."""
    from initopt._terminal import Progress, console
    from initopt.cli.render import summary_table
    from initopt.study import default_spec_path
    from initopt.study.runner import ProgressEvents, StudyInterrupted, run_study

    if checkpoint_every < 0:
        raise ValueError(f"--checkpoint-every must be >= 0 seconds, got {checkpoint_every:g}")
    path = spec or default_spec_path()
    study_spec = _with_validation(path, validation)
    from initopt.threads import default_setting, parse_threads

    thread_setting = parse_threads(threads) if threads is not None else (study_spec.train.threads or default_setting())
    if (cpus_per_bundle is not None or gpus_per_bundle is not None) and not (ray or study_spec.execution.ray):
        raise ValueError("--cpus-per-bundle, --gpus-per-bundle: these are a Ray task's resources; add --ray")
    execution = study_spec.execution.with_flags(ray, cpus_per_bundle, gpus_per_bundle)
    _interrupt_on_sigterm()
    epochs = study_spec.train.epochs
    try:
        with Progress("study", "steps") as bar:
            counts = {"done": 0, "total": 0, "steps": 0, "per_epoch": 1.0}

            def detail() -> str:
                config_epochs = int(counts["steps"] / counts["per_epoch"] + 1e-9)
                return (f"{config_epochs}/{counts['total'] * epochs} configuration-epochs, "
                        f"{counts['done']}/{counts['total']} configurations")

            def start(n_configs: int, total_steps: int) -> None:
                counts["total"] = n_configs
                counts["per_epoch"] = max(total_steps / max(n_configs * epochs, 1), 1e-9)
                bar.start(total_steps, detail=detail())

            def steps(n: int) -> None:
                counts["steps"] += n
                bar.update(advance=n, detail=detail())

            def configs_done(n: int) -> None:
                counts["done"] += n
                bar.update(detail=detail())

            events = ProgressEvents(start=start, steps=steps, configs_done=configs_done,
                                    notice=lambda text: bar.note(f"notice: {text}"))
            report = run_study(study_spec, db=db, engine=engine, max_bundle=max_bundle, device=device,
                               retry_failed=retry_failed, events=events, checkpoint_seconds=checkpoint_every,
                               threads=thread_setting, execution=execution)
    except StudyInterrupted as stopped:
        _say_interrupted(stopped, spec, db)
        raise typer.Exit(130) from None
    out = console()
    if report.skipped:
        print(f"{report.skipped} of {report.n_configs} configurations were already finished in {db}; trained {report.trained}.",
              flush=True)
    if report.elsewhere:
        print(f"{report.elsewhere} configurations were being trained by another process on {db}; this one left them "
              "to it (`initopt study list` shows when they are done).", flush=True)
    from initopt.report import load_report, save_report

    computed = load_report(db, report.study)  # one read of the study for the table and the report
    out.print(summary_table(computed.study, computed.candidates))
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts.items()))
    out.print(f"Study {report.study!r}: {report.trained} configurations run in {report.seconds:.1f}s ({report.engine} engine); "
              f"{counts}.", markup=False, highlight=False)
    _print_use_it(computed, out)
    print(f"Results: {db.resolve()}", flush=True)  # a path stays on one line, whole, to be copied
    if report.first_error:
        out.print(f"First error: {report.first_error} (run again with --retry-failed once fixed)", markup=False, highlight=False)
    default_name = re.sub(r"[^A-Za-z0-9._-]+", "_", report.study).strip("._") or "study"
    html = save_report(computed, out=report_path or Path(f"{default_name}-report.html"))
    print(f"Report: {html.resolve()}")


def _print_use_it(report, out) -> None:
    """The winner in two lines of PyTorch, and where the full code is."""
    from initopt.report.data import config_of
    from initopt.report.snippet import usage_lines

    if report.recommendation.best is None:
        return
    import textwrap

    init, optimizer = usage_lines(config_of(report.study, report.recommendation.best), report.study.no_decay)
    width = max(40, min(out.width, 100) - 1)
    lines = ["Use it (PyTorch):"]
    for text in (init, f"optimizer = {optimizer}", "full code: initopt study best --format python (or keras, toml)"):
        lines += textwrap.wrap(text, width=width, initial_indent="  ", subsequent_indent="      ",
                               break_long_words=False, break_on_hyphens=False)
    out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def _with_validation(path: Path, validation: str | None):
    """The spec at ``path``, its validation setting replaced by ``--validation`` when given."""
    from dataclasses import replace

    from initopt.data.validation import parse_validation
    from initopt.study import load_spec

    study_spec = load_spec(path)
    if validation is None:
        return study_spec
    try:
        value = parse_validation(validation)
    except ValueError as exc:
        raise ValueError(f"--validation: {exc}") from None
    folder = study_spec.workload.folder
    if isinstance(value, str) and value != "npz" and folder is not None and not Path(value).expanduser().is_absolute():
        # a path typed on the command line is the working directory's; the spec's paths are its folder's
        value = os.path.relpath(Path(value).expanduser().resolve(), folder)
    return replace(study_spec, train=replace(study_spec.train, validation=value))


def _interrupt_on_sigterm() -> None:
    """SIGTERM (``kill``, a scheduler ending the job) stops the study as Ctrl-C does: what is saved stays."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _say_interrupted(stopped, spec: Path | None, db: Path) -> None:
    """One line: what the interrupted run stored, what it saved part-way, and the command that goes on."""
    report, counts = stopped.report, stopped.report.counts
    finished = sum(counts.get(s, 0) for s in ("done", "diverged", "failed"))
    saved = ""
    if stopped.checkpoints:
        n = sum(len(cp.config_ids) for cp in stopped.checkpoints)
        epochs = sorted({cp.epoch for cp in stopped.checkpoints})
        saved = f"; {n} more saved part-way (after epoch {', '.join(map(str, epochs))})"
    command = f"initopt study run {spec} --db {db}" if spec else f"initopt study run --db {db}"
    print(f"Interrupted: {finished} of {report.n_configs} configurations of study {report.study!r} finished and "
          f"stored in {db}{saved}. Resume with: {command}", file=sys.stderr, flush=True)


from initopt.cli.report import report as _report  # noqa: E402  (a command of this group)

app.command("report")(_report)


@app.command("list")
def list_studies(db: DbOption = DEFAULT_DB) -> None:
    """The studies in the database, with their configuration counts by status."""
    from initopt._terminal import Fit, console, new_table
    from initopt.study.store import SQLiteStore

    _require_db(db)
    table = new_table(title=f"Studies in {db}")
    for column in ("study", "configs", "done", "diverged", "failed", "pruned", "interrupted", "running", "pending", "updated"):
        table.add_column(column, justify="right" if column not in ("study", "updated") else "left")
    with SQLiteStore(db) as store:
        for study in store.studies():
            counts = {status.value: n for status, n in store.counts(study.name).items()}
            interrupted = len(store.interrupted(study.name))
            running = len(store.held_elsewhere(study.name))  # live claims: a process is training them now
            pending = counts.get("pending", 0) + counts.get("running", 0) - interrupted - running
            table.add_row(study.name, str(sum(counts.values())), str(counts.get("done", 0)), str(counts.get("diverged", 0)),
                          str(counts.get("failed", 0)), str(counts.get("pruned", 0)), str(interrupted), str(running), str(pending),
                          _minutes(study.updated))
    console().print(Fit(table, drop=("updated",)))


def _minutes(timestamp: str) -> str:
    """``2026-12-07T12:34:56.789+00:00`` (UTC) -> ``2026-12-07 13:34`` in local time: seconds add width, not meaning."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(timestamp).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return str(timestamp)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Study name.")], db: DbOption = DEFAULT_DB) -> None:
    """The ranked summary of one study."""
    from initopt._terminal import console
    from initopt.cli.render import summary_table

    from initopt.report.data import load_study

    _require_db(db)
    console().print(summary_table(load_study(db, name)))


@app.command("best")
def best(
    db: DbOption = DEFAULT_DB,
    study: Annotated[str | None, typer.Option(help="Study name (optional when the file holds one study).")] = None,
    format: Annotated[str, typer.Option("--format", help="python (PyTorch), keras (Keras 3) or toml (a study spec's grid).")] = "python",
) -> None:
    """The study's winner (the report's recommendation) as code to paste: its init and its optimizer,
    with the weight decay converted between the libraries' rules."""
    from initopt.report.data import config_of, load_study, ranked_candidates
    from initopt.report.snippet import FORMATS, snippet

    if format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    _require_db(db)
    data = load_study(db, study)
    ranked = ranked_candidates(data)
    if not ranked or not ranked[0].values:  # the best has no finished seed: nothing has
        raise ValueError(f"study {data.name!r} in {db} has no finished configuration to recommend yet")
    sys.stdout.write(snippet(config_of(data, ranked[0]), format, data.no_decay))


@app.command("export")
def export(
    db: DbOption = DEFAULT_DB,
    study: Annotated[str | None, typer.Option(help="Study name (optional when the file holds one study).")] = None,
    format: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    epochs: Annotated[bool, typer.Option("--epochs", help="One row per configuration and epoch (learning curves) instead of one per configuration.")] = False,
) -> None:
    """One row per configuration: id, init, optimizer, lr, weight_decay, seed, status, epochs_run, losses, metric.
    With --epochs, one row per configuration and epoch: the configuration's id, init, optimizer, lr,
    weight_decay, momentum, seed, then epoch, train_loss, train_metric, val_loss, val_metric, seconds, ..."""
    from initopt.study.export import EXPORT_FORMATS, load, to_csv, to_json

    if format not in EXPORT_FORMATS:
        raise ValueError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    _require_db(db)
    records = load(db, study, epochs=epochs)
    text = to_csv(records) if format == "csv" else to_json(records)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"{len(records)} {'epoch rows' if epochs else 'configurations'} written to {out}")


def _require_db(db: Path) -> None:
    if not db.is_file():
        raise ValueError(f"{db}: no such database file (run a study first, or pass --db)")

