"""The report in a few lines of plain text, for the terminal after ``initopt study report``."""

from __future__ import annotations

from initopt.report import fmt
from initopt.report.data import Report

TOP_LINES = 5  # leaderboard rows echoed to the terminal


def summary_lines(report: Report) -> list[str]:
    """The verdict, then the top of the leaderboard as ``rank. label  mean ± std  [CI]``."""
    lines = [report.recommendation.verdict]
    for note in report.notes:
        lines.append(f"note: {note}")
    scored = [c for c in report.candidates if c.values][:TOP_LINES]
    if scored:
        lines.append(f"Top {len(scored)} by {report.metric_title}:")
        width = max(len(c.short_label) for c in scored)
        for i, c in enumerate(scored, start=1):
            lines.append(f"  {i}. {c.short_label:<{width}}  {fmt.pm(c.mean, c.std)}  {fmt.interval(c.ci_low, c.ci_high, c.mean)}"
                         + (f"  ({c.n_bad} of {len(c.seeds)} seeds diverged)" if c.n_bad else ""))
    return lines
