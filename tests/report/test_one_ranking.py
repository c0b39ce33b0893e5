"""One ranking: the terminal table, the report's recommendation and leaderboard, and the exports agree."""

from __future__ import annotations

import csv

from rich.console import Console
from test_report_support import Run

from initopt.cli.render import summary_table
from initopt.report import load_report, save_report
from initopt.report.data import load_study
from initopt.study.export import load
from initopt.study.store import Status


def _a_wins_on_survivors_b_on_every_seed():
    """A: 0.95 on 2 of 3 seeds, the third diverged; B: 0.93 on 3 of 3 (and a worse lr of each)."""
    return [
        Run("a_init", "adam", 0.1, 0, 0.95), Run("a_init", "adam", 0.1, 1, 0.951),
        Run("a_init", "adam", 0.1, 2, status=Status.DIVERGED, diverged_epoch=2),
        Run("a_init", "adam", 0.001, 0, 0.80), Run("a_init", "adam", 0.001, 1, 0.81), Run("a_init", "adam", 0.001, 2, 0.80),
        Run("b_init", "adam", 0.01, 0, 0.93), Run("b_init", "adam", 0.01, 1, 0.931), Run("b_init", "adam", 0.01, 2, 0.929),
        Run("b_init", "adam", 0.001, 0, 0.85), Run("b_init", "adam", 0.001, 1, 0.86), Run("b_init", "adam", 0.001, 2, 0.85),
    ]


def test_terminal_table_report_leaderboard_and_export_rank_alike(make_study, tmp_path):
    db = make_study(_a_wins_on_survivors_b_on_every_seed())
    report = load_report(db)
    assert report.recommendation.best.init == "b_init" and report.recommendation.best.lr == 0.01
    assert [(c.init, c.lr) for c in report.candidates] == [("b_init", 0.01), ("b_init", 0.001), ("a_init", 0.001), ("a_init", 0.1)]

    console = Console(width=160, record=True)
    console.print(summary_table(load_study(db)))
    shown = console.export_text()
    lines = [line for line in shown.splitlines() if line.strip()[:1].isdigit()]
    assert "b_init" in lines[0] and "0.01" in lines[0] and "a_init" in lines[1]
    assert "1/6" in lines[1]  # the group's diverged seed is shown where it ranks
    assert "Best: b_init + adam, lr 0.01" in shown

    save_report(report, tmp_path / "r.md", "markdown")
    leaderboard = list(csv.DictReader((tmp_path / "r_leaderboard.csv").open(encoding="utf-8")))
    assert (leaderboard[0]["rank"], leaderboard[0]["init"], float(leaderboard[0]["lr"])) == ("1", "b_init", 0.01)

    exported = {(r["init"], r["lr"], r["seed"]): r["rank"] for r in load(db)}
    assert {exported[("b_init", 0.01, s)] for s in range(3)} == {1}
    assert {exported[("a_init", 0.1, s)] for s in range(3)} == {len(report.candidates)}  # lost a seed: last
