"""The report in a few lines of plain text, for the terminal after ``initopt study report``."""

from __future__ import annotations

import textwrap

from initopt.report import fmt
from initopt.report.data import Report

TOP_LINES = 5  # leaderboard rows echoed to the terminal
WIDTH = 80  # the width the lines are wrapped to unless told otherwise


def summary_lines(report: Report, width: int = WIDTH) -> list[str]:
    """The verdict, then the top of the leaderboard as ``rank. label  mean ± std  [CI]``, in lines of
    at most ``width`` characters: prose wraps at spaces, and a row too wide for one line puts its
    numbers on the next, so a label (its lr, its weight decay) is never cut."""
    lines = _wrap(report.recommendation.verdict, width)
    for note in report.notes:
        lines += _wrap(f"note: {note}", width, subsequent_indent="  ")
    scored = [c for c in report.candidates if c.values][:TOP_LINES]
    if scored:
        lines += _wrap(f"Top {len(scored)} by {report.metric_title}:", width)
        labels = [f"  {i}. {c.short_label}" for i, c in enumerate(scored, start=1)]
        numbers = [f"{fmt.pm(c.mean, c.std)}  {fmt.interval(c.ci_low, c.ci_high, c.mean)}"
                   + (f"  ({c.n_bad} of {len(c.seeds)} seeds diverged)" if c.n_bad else "") for c in scored]
        label_width = max(map(len, labels))
        one_line = label_width + 2 + max(map(len, numbers)) <= width
        for label, number in zip(labels, numbers, strict=True):
            if one_line:
                lines.append(f"{label:<{label_width}}  {number}")
            else:
                lines += _wrap(label, width, subsequent_indent="       ")
                lines += _wrap(number, width, initial_indent="       ", subsequent_indent="       ")
    return lines


def _wrap(text: str, width: int, **indents: str) -> list[str]:
    """``textwrap.wrap`` that never breaks at the hyphen of ``3e-04``."""
    return textwrap.wrap(text, width, break_on_hyphens=False, **indents)
