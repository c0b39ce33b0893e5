"""Rich renderings of study records for the terminal."""

from __future__ import annotations

import math
from pathlib import Path

from initopt._terminal import Fit
from initopt.report.fmt import hyper, pm

#: Dropped in this order when the terminal is too narrow for the whole table (hyperparameters never
#: are; the best's test score stays in the caption).
LOW_VALUE_COLUMNS = ("val loss", "test loss", "seeds", "test")  # "test": the test metric beside a validation one


def summary_table(db: Path, name: str) -> Fit:
    """Per init x optimizer x weight decay, best first: best lr, mean ± std over seeds of the final val
    metric and loss, seeds, diverged runs."""
    from initopt._terminal import new_table
    from initopt.report.data import load_study
    from initopt.study.summary import summarize

    study = load_study(db, name)  # each configuration's values from its selected epoch (rank_by)
    metric = study.metric
    summary = summarize(study.configs, metric)
    chosen = "val" if study.selects_on == "validation" else "test"
    best_epoch = "best-epoch " if study.rank_by == "best" else ""
    table = new_table(title=f"Study {study.name!r}: {best_epoch}{chosen} {metric} at the best lr, mean ± std over seeds"
                            + ("" if chosen == "val" else " (no validation split: ranked on the test split)"))
    columns = ("#", "init", "optimizer", "lr", "wd", f"{chosen} {metric}", *((f"test {metric}",) if chosen == "val" else ()),
               f"{chosen} loss", "seeds", "diverged")
    for column in columns:
        text = column in ("init", "optimizer")
        table.add_column(column, justify="left" if text else "right", no_wrap=not text)
    if summary and not math.isnan(summary[0].metric_mean):
        best = summary[0]
        test = f"; test {metric} {pm(best.test_mean, best.test_std)}" if chosen == "val" else ""
        table.caption = (f"Best: {best.init} + {best.optimizer}, lr {hyper(best.best_lr)}, wd {hyper(best.weight_decay)}: "
                         f"{chosen} {metric} {pm(best.metric_mean, best.metric_std)} over {best.seeds} seeds{test}")
    for rank, row in enumerate(summary, start=1):
        diverged = f"{row.diverged}/{row.runs}" + (f" ({row.failed} failed)" if row.failed else "")
        test = (pm(row.test_mean, row.test_std),) if chosen == "val" else ()
        table.add_row(str(rank), row.init, row.optimizer, hyper(row.best_lr), hyper(row.weight_decay),
                      pm(row.metric_mean, row.metric_std), *test, pm(row.loss_mean, row.loss_std), str(row.seeds), diverged)
    drop = [c for c in LOW_VALUE_COLUMNS if c != "test"] + ([f"test {metric}"] if chosen == "val" else [])
    return Fit(table, drop=tuple(drop))
