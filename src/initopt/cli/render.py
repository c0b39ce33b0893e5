"""Rich renderings of study records for the terminal."""

from __future__ import annotations

import math
from pathlib import Path

from rich.table import Table

from initopt.report.fmt import pm


def summary_table(db: Path, name: str) -> Table:
    """Per init x optimizer, best first: best lr, mean ± std over seeds of the final val metric and loss."""
    from initopt.study.store import SQLiteStore
    from initopt.study.summary import summarize

    with SQLiteStore(db) as store:
        study = store.study(name)
        rows = store.configs(study.name)
    metric = (study.spec.get("train") or {}).get("metric") or "metric"
    summary = summarize(rows, metric)
    table = Table(title=f"Study {study.name!r}: final validation {metric}, mean ± std over seeds at the best lr")
    for column in ("rank", "init", "optimizer", "best lr", f"val {metric}", "val loss", "seeds", "diverged"):
        table.add_column(column, justify="left" if column in ("init", "optimizer") else "right")
    if summary and not math.isnan(summary[0].metric_mean):
        best = summary[0]
        table.caption = (f"Best: {best.init} + {best.optimizer} at lr {best.best_lr:g}: val {metric} "
                         f"{pm(best.metric_mean, best.metric_std)} over {best.seeds} seeds")
    for rank, row in enumerate(summary, start=1):
        diverged = f"{row.diverged}/{row.runs}" + (f" ({row.failed} failed)" if row.failed else "")
        table.add_row(str(rank), row.init, row.optimizer, f"{row.best_lr:g}", pm(row.metric_mean, row.metric_std),
                      pm(row.loss_mean, row.loss_std), str(row.seeds), diverged)
    return table
