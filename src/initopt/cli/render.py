"""Rich renderings of study records for the terminal."""

from __future__ import annotations

import math

from initopt._terminal import Fit
from initopt.report.fmt import hyper, pm
from initopt.report.stats import mean_std

#: Dropped in this order when the terminal is too narrow for the whole table (hyperparameters never
#: are; the best's test score stays in the caption).
LOW_VALUE_COLUMNS = ("val loss", "test loss", "seeds", "test")  # "test": the test metric beside a validation one


def summary_table(study, ranked=None) -> Fit:
    """Per init x optimizer x weight decay, in the order of its best candidate in the study's one ranking
    (``report.data.ranked_candidates``, the report's): that candidate's lr, mean ± std over seeds of its
    scored metric and loss, its seeds, and the diverged runs of the whole group.

    ``study``: a ``StudyData`` (``report.data.load_study``); ``ranked``: its ranked candidates when
    already computed (a ``Report``'s)."""
    from initopt._terminal import new_table
    from initopt.report.data import best_per_group, ranked_candidates

    ranked = list(ranked) if ranked is not None else ranked_candidates(study)
    metric = study.metric
    chosen = "val" if study.selects_on == "validation" else "test"
    best_epoch = "best-epoch " if study.rank_by == "best" else ""
    table = new_table(title=f"Study {study.name!r}: {best_epoch}{chosen} {metric} at the best lr, mean ± std over seeds"
                            + ("" if chosen == "val" else " (no validation split: ranked on the test split)"))
    columns = ("#", "init", "optimizer", "lr", "wd", f"{chosen} {metric}", *((f"test {metric}",) if chosen == "val" else ()),
               f"{chosen} loss", "seeds", "diverged")
    for column in columns:
        text = column in ("init", "optimizer")
        table.add_column(column, justify="left" if text else "right", no_wrap=not text)
    rows = best_per_group(ranked)
    if rows and not math.isnan(rows[0][0].mean):
        best = rows[0][0]
        test = f"; test {metric} {pm(best.test_mean, best.test_std)}" if chosen == "val" else ""
        lost = f" ({best.n_bad} of {len(best.seeds)} seeds diverged or failed)" if best.n_bad else ""
        table.caption = (f"Best: {best.init} + {best.optimizer}, lr {hyper(best.lr)}, wd {hyper(best.weight_decay)}: "
                         f"{chosen} {metric} {pm(best.mean, best.std)} over {len(best.values)} seeds{lost}{test}")
    for number, (best, members) in enumerate(rows, start=1):
        runs = sum(len(c.seeds) for c in members)
        diverged = f"{sum(c.n_diverged for c in members)}/{runs}"
        failed = sum(c.n_failed for c in members)
        diverged += f" ({failed} failed)" if failed else ""
        loss_mean, loss_std = mean_std(best.val_losses)
        test = (pm(best.test_mean, best.test_std),) if chosen == "val" else ()
        table.add_row(str(number), best.init, best.optimizer, hyper(best.lr), hyper(best.weight_decay),
                      pm(best.mean, best.std), *test, pm(loss_mean, loss_std), str(len(best.seeds)), diverged)
    drop = [c for c in LOW_VALUE_COLUMNS if c != "test"] + ([f"test {metric}"] if chosen == "val" else [])
    return Fit(table, drop=tuple(drop))
