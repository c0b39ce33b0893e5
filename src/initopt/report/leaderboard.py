"""The leaderboard as flat records: one row per candidate (grid point over its seeds), best first.

The HTML table, the Markdown table and the CSV file are all drawn from ``leaderboard_records``.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from initopt.report.data import Report

CSV_COLUMNS = (
    "rank", "init", "optimizer", "lr", "weight_decay", "mean", "std", "ci_low", "ci_high",
    "seeds_finished", "seeds", "diverged", "failed", "unfinished", "values",
    "test_mean", "test_std", "test_ci_low", "test_ci_high", "test_values",
)  # fmt: skip


def leaderboard_records(report: Report) -> list[dict[str, Any]]:
    """Every candidate, ranked: means, spread and 95% CI over seeds of the selection metric (validation),
    divergence counts, the raw values; then the same of the test split (reported, never ranked on)."""
    out = []
    for i, c in enumerate(report.candidates, start=1):
        out.append({
            "rank": i, "init": c.init, "optimizer": c.optimizer, "lr": c.lr, "weight_decay": c.weight_decay,
            "mean": c.mean, "std": c.std, "ci_low": c.ci_low, "ci_high": c.ci_high,
            "seeds_finished": len(c.values), "seeds": len(c.seeds), "diverged": c.n_diverged, "failed": c.n_failed,
            "unfinished": c.n_unfinished, "values": " ".join(repr(v) for v in c.values),
            "test_mean": c.test_mean, "test_std": c.test_std, "test_ci_low": c.test_ci_low,
            "test_ci_high": c.test_ci_high, "test_values": " ".join(repr(v) for v in c.test_values),
        })  # fmt: skip
    return out


def to_csv(records: list[dict[str, Any]]) -> str:
    """RFC 4180 CSV (quoted where needed); NaN is an empty cell."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()})
    return buffer.getvalue()
