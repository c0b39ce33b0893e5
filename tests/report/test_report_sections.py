"""What each section computes, on synthetic studies whose right answer is known in advance."""

from __future__ import annotations

import math

import pytest
from test_report_support import Run

from initopt.report import load_report
from initopt.study.store import Status


def clear_winner() -> list[Run]:
    """he_normal + adam at lr 1e-3 wins by far; sgd at lr 1 diverges on one seed."""
    return [
        *(Run("he_normal", "adam", 1e-3, s, v) for s, v in enumerate((0.90, 0.91, 0.92))),
        *(Run("he_normal", "adam", 1e-2, s, v) for s, v in enumerate((0.60, 0.61, 0.62))),
        *(Run("zeros", "adam", 1e-3, s, v) for s, v in enumerate((0.50, 0.51, 0.49))),
        *(Run("zeros", "adam", 1e-2, s, v) for s, v in enumerate((0.50, 0.50, 0.50))),
        *(Run("he_normal", "sgd", 1.0, s, v) for s, v in enumerate((0.99, 0.98))),
        Run("he_normal", "sgd", 1.0, 2, status=Status.DIVERGED, diverged_epoch=2),
    ]


def test_the_best_is_told_apart_from_a_clearly_worse_runner_up(make_study):
    report = load_report(make_study(clear_winner()))
    rec = report.recommendation
    assert (rec.best.init, rec.best.optimizer, rec.best.lr) == ("he_normal", "adam", 1e-3)
    assert rec.best.mean == pytest.approx(0.91)
    assert rec.best.ci_low < 0.91 < rec.best.ci_high
    assert rec.runner_up.other.lr == 1e-2 and rec.runner_up.told_apart and rec.runner_up.p_value < 0.05
    assert "beats the runner-up" in rec.verdict and rec.ties == ()


def test_a_candidate_that_lost_a_seed_ranks_after_every_clean_one(make_study):
    """sgd lr=1 has the highest mean (0.985) over its surviving seeds, but one seed diverged."""
    report = load_report(make_study(clear_winner()))
    sgd = next(c for c in report.candidates if c.optimizer == "sgd")
    assert sgd.mean == pytest.approx(0.985) and sgd.n_diverged == 1 and sgd.diverged_epochs == (2,)
    assert report.candidates[-1] is sgd
    assert report.recommendation.best.optimizer == "adam"


def test_seed_noise_gives_a_tie_and_says_so(make_study):
    runs = [Run("he_normal", "adam", 1e-3, s, v) for s, v in enumerate((0.80, 0.90, 0.85))]
    runs += [Run("xavier_normal", "adam", 1e-3, s, v) for s, v in enumerate((0.84, 0.86, 0.83))]
    runs += [Run("zeros", "adam", 1e-3, s, v) for s, v in enumerate((0.50, 0.51, 0.50))]
    rec = load_report(make_study(runs)).recommendation
    assert not rec.runner_up.told_apart and rec.runner_up.p_value > 0.5
    assert "cannot be told apart" in rec.verdict
    assert [c.init for c in rec.ties] == ["xavier_normal"]
    assert "None of them uses initialization zeros" in rec.verdict


def test_lower_is_better_metric_ranks_the_smallest_first(make_study):
    runs = [Run("a", "adam", lr, s, v) for lr, vals in ((1e-3, (0.10, 0.11)), (1e-2, (0.50, 0.52))) for s, v in enumerate(vals)]
    report = load_report(make_study(runs, metric="mse"))
    assert report.recommendation.best.lr == 1e-3
    assert report.heatmap.higher_is_better is False
    assert "lower is better" in report.metric_title


def test_heatmap_cell_is_the_best_lr_of_its_init_and_optimizer(make_study):
    report = load_report(make_study(clear_winner()))
    h = report.heatmap
    assert h.rows == ("he_normal", "zeros") and h.cols == ("adam", "sgd")
    assert h.values[0][0] == pytest.approx(0.91) and "lr 0.001" in h.notes[0][0]
    assert math.isnan(h.values[1][1])  # zeros + sgd was not tried
    assert h.values[0][1] == pytest.approx(0.985) and "1/3 div" in h.notes[0][1]


def test_divergence_map_counts_seeds_and_the_first_epoch(make_study):
    report = load_report(make_study(clear_winner()))
    d = report.divergence
    row = d.rows.index("he_normal + sgd")
    col = d.cols.index("1")
    assert d.values[row][col] == pytest.approx(1 / 3)
    assert d.notes[row][col] == "1/3\ne2"
    assert [(r.init, r.lr, r.seed, r.epoch) for r in report.diverged_runs] == [("he_normal", 1.0, 2, 2)]


def test_learning_curves_are_mean_and_range_over_seeds(make_study):
    runs = [Run("a", "adam", 1e-3, 0, 0.8, losses=(1.0, 0.5)), Run("a", "adam", 1e-3, 1, 0.9, losses=(3.0, 0.7))]
    curve = load_report(make_study(runs)).curves[0].curves[0]
    assert curve.epochs == (1, 2)
    assert curve.train_mean == pytest.approx((2.0, 0.6))
    assert curve.train_low == pytest.approx((1.0, 0.5)) and curve.train_high == pytest.approx((3.0, 0.7))
    assert curve.val_mean == pytest.approx((2.2, 0.66))


def test_lr_by_weight_decay_heatmaps_only_for_a_grid_over_both(make_study):
    runs = [Run("he_normal", opt, lr, s, 0.5 + lr * 10 + wd, weight_decay=wd)
            for opt in ("adam", "adamw") for lr in (1e-3, 1e-2) for wd in (0.0, 1e-2) for s in (0, 1)]
    runs += [Run("he_normal", "sgd", lr, 0, 0.5) for lr in (1e-3, 1e-2)]
    report = load_report(make_study(runs))
    assert [h.title.split(":")[0] for h in report.lr_wd] == ["adam", "adamw"]
    h = report.lr_wd[0]
    assert h.rows == ("0.01", "0") and h.cols == ("0.001", "0.01")  # largest decay on top
    assert h.values[0][1] == pytest.approx(0.5 + 0.1 + 0.01)


def test_importance_scores_diverged_runs_at_the_worst_value(make_study):
    report = load_report(make_study(clear_winner()))
    assert "1 diverged runs, scored at the worst final accuracy reached (0.49)" in report.importance_note
    shares = dict(report.importance.shares)
    assert set(shares) == {"init", "optimizer", "lr"}  # weight decay never varies
    assert sum(shares.values()) == pytest.approx(1.0)


def test_nothing_finished_still_makes_a_report(make_study):
    runs = [Run("a", "sgd", 10.0, s, status=Status.DIVERGED, diverged_epoch=1) for s in (0, 1)]
    report = load_report(make_study(runs))
    assert report.recommendation.best is None and "nothing to recommend" in report.recommendation.verdict
    assert report.curves == () and report.importance.shares == ()


def test_unfinished_and_single_seed_studies_are_flagged(make_study):
    runs = [Run("a", "adam", 1e-3, 0, 0.8), Run("a", "adam", 1e-2, 0, 0.7), Run("b", "adam", 1e-3, 0, status=Status.PENDING)]
    report = load_report(make_study(runs))
    assert any("have not finished" in note for note in report.notes)
    assert any("One seed per configuration" in note for note in report.notes)
    assert "no test is possible" in report.recommendation.verdict
    # and the renderers print no Welch line with p = n/a "not told apart" under that verdict
    from initopt.report.html import render_html
    from initopt.report.markdown import render_markdown

    for text in (render_html(report, []), render_markdown(report, [], "files", "leaderboard.csv")):
        assert "no test is possible" in text and "Welch's two-sided" not in text


def test_the_real_tiny_study(tiny_report):
    """A study the engine trained: every section has content and the numbers hang together."""
    r = tiny_report
    assert len(r.candidates) == 8 and all(len(c.seeds) == 2 for c in r.candidates)
    best = r.recommendation.best
    assert best is r.candidates[0] and 0.5 < best.mean <= 1.0
    assert best.mean == max(c.mean for c in r.candidates if not c.n_bad)
    assert r.heatmap.rows == ("he_normal", "normal(std=1)") and r.heatmap.cols == ("sgd momentum=0.9", "adamw")
    assert [p.optimizer for p in r.sensitivity] == ["sgd momentum=0.9", "adamw"]
    assert all(len(line.lrs) == 2 for p in r.sensitivity for line in p.lines)
    assert len(r.curves) == 2 and all(c.epochs == (1, 2, 3) for p in r.curves for c in p.curves)
    assert r.timing.counts == (("done", 16),)


def test_intervals_are_cut_to_the_metrics_range(make_study):
    """Two seeds far apart: Student's interval is +-12.7 s/sqrt(2), far past an accuracy of 1."""
    runs = [Run("a", "adam", 1e-3, 0, 0.60), Run("a", "adam", 1e-3, 1, 0.99)]
    c = load_report(make_study(runs)).candidates[0]
    assert (c.ci_low, c.ci_high) == (0.0, 1.0)
    mse = load_report(make_study(runs, metric="mse")).candidates[0]
    assert mse.ci_low == 0.0 and mse.ci_high > 1.0  # mse has no ceiling


def test_no_divergence_map_when_nothing_diverged_and_weight_decays_summed_when_some_did(make_study):
    calm = [Run(i, "adamw", lr, s, 0.8 + lr, weight_decay=wd) for i in ("a", "b") for lr in (1e-3, 1e-2)
            for wd in (0.0, 0.1) for s in (0, 1)]
    assert load_report(make_study(calm)).divergence is None
    stormy = calm + [Run("a", "adamw", 1.0, s, status=Status.DIVERGED, diverged_epoch=1 + s, weight_decay=wd)
                     for wd in (0.0, 0.1) for s in (0, 1)]
    d = load_report(make_study(stormy)).divergence
    assert d.rows == ("a + adamw", "b + adamw")  # one row per init x optimizer, not per weight decay
    assert d.values[0][d.cols.index("1")] == 1.0 and d.notes[0][d.cols.index("1")] == "4/4\ne1"
    assert "all weight decays together" in d.title


def test_heatmaps_mark_the_cells_within_seed_noise_and_scale_colours_to_the_noise(make_study):
    """0.978 and 0.979 with a seed std of 0.01 are a tie: both cells marked, and the colour scale spans
    at least four seed standard deviations, so they get nearly one colour."""
    runs = [Run("he_normal", "adam", 1e-3, s, v) for s, v in enumerate((0.968, 0.978, 0.988))]
    runs += [Run("gaussian", "adam", 1e-3, s, v) for s, v in enumerate((0.969, 0.979, 0.989))]
    runs += [Run("zeros", "adam", 1e-3, s, v) for s, v in enumerate((0.50, 0.51, 0.49))]
    h = load_report(make_study(runs)).heatmap
    marked = {row: h.marked[i][0] for i, row in enumerate(h.rows)}
    assert marked == {"he_normal": True, "gaussian": True, "zeros": False}
    low, high = h.value_range
    assert high - low >= 4 * 0.01 - 1e-12
    tie = [h.values[h.rows.index(r)][0] for r in ("he_normal", "gaussian")]
    assert abs(tie[0] - tie[1]) / (high - low) < 0.03  # the same colour, near enough
    alone = load_report(make_study(runs[:6])).heatmap  # only the tie: the data's range is 0.001
    low, high = alone.value_range
    assert high - low == pytest.approx(4 * 0.01) and high == pytest.approx(0.979)


def test_the_best_setting_of_each_optimizer_is_named(make_study, tmp_path):
    from initopt.report import save_report

    report = load_report(make_study(clear_winner()))
    per = {c.optimizer: (c.init, c.lr) for c in report.recommendation.per_optimizer}
    assert per == {"adam": ("he_normal", 1e-3), "sgd": ("he_normal", 1.0)}  # in the ranking's order of each
    html = save_report(report, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "best adam: lr 0.001, weight decay 0, he_normal" in html
    assert "interval over 3 seeds" in html  # the caption counts this study's seeds


def test_a_winner_against_the_common_advice_is_explained_and_unstable_curves_say_so(make_study):
    runs = [Run("normal(std=0.01)", "adam", 1e-3, s, v) for s, v in enumerate((0.90, 0.91, 0.92))]
    runs += [Run("he_normal", "adam", 1e-3, s, v) for s, v in enumerate((0.89, 0.91, 0.915))]
    runs += [Run("he_normal", "adam", 0.1, s, v, losses=(0.9, 0.4, 1.8, 0.5)) for s, v in enumerate((0.5, 0.52, 0.51))]
    report = load_report(make_study(runs))
    verdict = report.recommendation.verdict
    assert "Against the common advice" in verdict and "he_normal (0.905) cannot be told from it" in verdict
    assert "initopt doctor --init normal:std=0.01 --depth 30" in verdict  # as the command line takes it
    labels = [c.label for panel in report.curves for c in panel.curves]
    assert any("lr=0.1" in label and "(unstable: val loss" in label for label in labels)
    he = [Run("he_normal", "adam", 1e-3, s, v) for s, v in enumerate((0.90, 0.91, 0.92))]
    assert "common advice" not in load_report(make_study(he + runs[6:])).recommendation.verdict


def test_optimizer_labels_keep_the_hyperparameters_stored_order(make_study):
    runs = [Run("a", "sgd", 0.1, s, 0.8, extra={"momentum": 0.5, "dampening": 0.1}) for s in (0, 1)]
    assert [c.optimizer for c in load_report(make_study(runs)).candidates] == ["sgd momentum=0.5 dampening=0.1"]

