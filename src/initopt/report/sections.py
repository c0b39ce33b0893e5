"""Compute every section of a report from a study: ``build_report(StudyData) -> Report``.

One function per section, each returning the plain records of ``data.py``. The order of inits and
optimizers is the spec's (first seen in the grid), so every table and plot lists them alike.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime

from initopt.report import fmt, stats
from initopt.report.importance import ImportanceResult, fanova_importance
from initopt.report.data import (
    Candidate,
    Comparison,
    Curve,
    CurvePanel,
    DivergedRun,
    Heatmap,
    LadderSummary,
    Recommendation,
    Report,
    Rung,
    SensitivityLine,
    SensitivityPanel,
    StudyData,
    Timing,
    TransferLine,
    TransferPanel,
    best_per_group,
    rank_key,
    ranked_candidates,
    variant_label,
)
from initopt.study.store import Status

TOP_CURVES = 4  # candidates in the "top configurations" learning-curve panel
UNSTABLE_RATIO = 2.0  # a curve whose mean validation loss in its second half spans more than this factor is labelled unstable
# schemes that scale the variance to the layer's fans: the common advice (He for ReLU, Glorot for tanh)
VARIANCE_SCALING = ("he_", "xavier_", "lecun_", "orthogonal", "gpt2", "lsuv", "kaiming", "glorot")


def build_report(study: StudyData) -> Report:
    candidates = ranked_candidates(study)
    importance, importance_note = importance_section(study, candidates)
    recommendation = recommend(candidates, study.metric, study.lower_is_better, (study.inits(), study.optimizers()),
                               study.selects_on)
    scored = [c for c in candidates if not math.isnan(c.mean)]
    firsts = {best.optimizer: best for best, _ in best_per_group(scored, key=lambda c: c.optimizer)}
    recommendation = replace(recommendation, per_optimizer=tuple(firsts[o] for o in study.optimizers() if o in firsts))
    tied = {c.key for c in (recommendation.best, *recommendation.ties) if c is not None}
    advice = against_advice(recommendation.best, candidates, tied, study)
    if advice:
        recommendation = replace(recommendation, verdict=recommendation.verdict + advice)
    scale = noise_scale(candidates)
    halving = ladder(study)
    return Report(
        study=study,
        candidates=tuple(candidates),
        recommendation=recommendation,
        heatmap=_honest(init_optimizer_heatmap(candidates, study), tied, scale),
        lr_wd=tuple(_honest(h, tied, scale) for h in lr_wd_heatmaps(candidates, study)),
        curves=curve_panels(candidates, study),
        sensitivity=sensitivity_panels(candidates, study),
        divergence=divergence_heatmap(candidates, study),
        diverged_runs=diverged_runs(study),
        importance=importance,
        importance_note=importance_note,
        timing=timing(study),
        notes=reader_notes(study) + ((halving.note,) if halving else ()),
        ladder=halving,
        transfer=transfer(candidates, study),
    )


def transfer(candidates: list[Candidate], study: StudyData) -> tuple[TransferPanel, ...]:
    """A study with a ``width`` axis: per parametrization, the objective against the learning rate, one line
    per width (at each lr the best of the other settings: init, optimizer, weight decay), each width's best
    lr, and how far it moves across the widths (the best lr's largest over its smallest)."""
    hyper = {c.id: c.hyper for c in study.configs}
    points: dict[tuple[str, int], dict[float, float]] = {}
    for c in candidates:
        h = hyper.get(c.config_ids[0], {})
        if "width" not in h or not math.isfinite(c.mean):
            continue
        at = points.setdefault((h.get("parametrization", "sp"), int(h["width"])), {})
        if c.lr not in at or (c.mean < at[c.lr]) == study.lower_is_better:
            at[c.lr] = c.mean
    panels = []
    from initopt.init.parametrize import PARAMETRIZATIONS

    for parametrization in sorted(_ordered(p for p, _ in points), key=PARAMETRIZATIONS.index):  # SP, then muP
        lines = []
        for width in sorted(w for p, w in points if p == parametrization):
            at = points[(parametrization, width)]
            lrs = tuple(sorted(at))
            best_lr = (min if study.lower_is_better else max)(lrs, key=lambda lr: at[lr])
            lines.append(TransferLine(width, lrs, tuple(at[lr] for lr in lrs), best_lr, at[best_lr]))
        best_lrs = [line.best_lr for line in lines]
        panels.append(TransferPanel(parametrization, tuple(lines), max(best_lrs) / min(best_lrs)))
    return tuple(panels)


def ladder(study: StudyData) -> LadderSummary | None:
    """The rungs of a halving study, from its spec's ``[search]`` and its configurations' epochs."""
    from initopt.study.search import SearchSettings

    search = study.spec.get("search") or {}
    if search.get("strategy") != "halving" and not study.count(Status.PRUNED):
        return None
    settings = SearchSettings("halving", reduction_factor=int(search.get("reduction_factor", 3)),
                              min_epochs=int(search.get("min_epochs", 1)))
    epochs = int((study.spec.get("train") or {}).get("epochs") or max((c.epochs_run for c in study.configs), default=0))
    rungs = []
    for epoch in [*settings.rungs(epochs), epochs]:
        reached = [c for c in study.configs if c.epochs_run >= epoch]
        rungs.append(Rung(epoch, len(reached), len({(c.init, variant_label(c), c.lr, c.weight_decay) for c in reached}),
                          sum(c.epochs_run > epoch for c in reached)))
    pruned, finished = study.count(Status.PRUNED), study.count(Status.DONE) + study.count(Status.DIVERGED)
    note = (f"Successive halving (reduction factor {settings.reduction_factor}) pruned {pruned} of {len(study.configs)} "
            f"configurations at its rungs; the recommendation, leaderboard, heatmaps, curves, sensitivity and importance "
            f"stand on the {finished} that trained every epoch (or diverged on the way), never on a pruned one.")
    return LadderSummary(tuple(rungs), pruned, finished, note)


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def _best(candidates: list[Candidate], lower_is_better: bool) -> Candidate | None:
    return min(candidates, key=lambda c: rank_key(c, lower_is_better)) if candidates else None


# ------------------------------------------------------------------------------------ recommendation


def compare(best: Candidate, other: Candidate) -> Comparison:
    test = stats.welch_t_test(best.values, other.values)
    told_apart = math.isfinite(test.p_value) and test.p_value < stats.ALPHA
    return Comparison(other, best.mean - other.mean, test.t, test.df, test.p_value, told_apart)


def recommend(ranked: list[Candidate], metric: str, lower_is_better: bool,
              orders: tuple[list[str], list[str]] | None = None, selects_on: str = "validation") -> Recommendation:
    """The best candidate, Welch's test against the runner-up, every candidate it cannot beat, and
    the best's test score (measured on data that chose nothing).

    ``orders``: the spec's order of inits and of optimizers, for the sentences that list them.
    ``selects_on``: ``validation``, or ``test`` for a study without a validation split.
    """
    scored = [c for c in ranked if not math.isnan(c.mean)]
    n_seeds = max((len(c.seeds) for c in ranked), default=0)
    if not scored:
        verdict = f"No configuration finished with a finite {metric}: nothing to recommend. See the divergence map."
        return Recommendation(None, None, (), len(ranked), n_seeds, verdict)
    best = scored[0]
    head = (f"Use {best.label}: {selects_on} {metric} {fmt.pm(best.mean, best.std)} over {len(best.values)} seeds"
            + (f", 95% CI {fmt.interval(best.ci_low, best.ci_high, best.mean)}." if len(best.values) > 1 else "."))
    head += _test_score(best, metric, selects_on)
    if best.n_bad:
        head += f" Careful: {best.n_bad} of its {len(best.seeds)} seeds diverged or failed, and no configuration avoided that."
    if len(scored) == 1:
        return Recommendation(best, None, (), len(ranked), n_seeds, head + " It is the only configuration with a result.")
    runner_up = compare(best, scored[1])
    # a tie needs a test that ran and could not separate them; untestable pairs are no evidence either way
    ties = tuple(c for c in scored[1:] if not c.n_bad and math.isfinite((test := compare(best, c)).p_value) and not test.told_apart)
    if len(best.values) < 2 or len(runner_up.other.values) < 2:
        tail = (f" The runner-up is {runner_up.other.label} ({fmt.num(runner_up.other.mean)}); with fewer than 2 "
                "finished seeds on a side no test is possible: add seeds to tell them apart.")
    elif math.isnan(runner_up.p_value):
        tail = (f" The runner-up is {runner_up.other.label} ({fmt.num(runner_up.other.mean)}); neither varies across its "
                "seeds, so there is no estimate of seed noise and no test: add seeds to tell them apart.")
    elif runner_up.told_apart:
        tail = (f" It beats the runner-up, {runner_up.other.label} ({fmt.num(runner_up.other.mean)}), by "
                f"{fmt.delta(runner_up.difference, best.mean)} (Welch's t-test over seeds, p = {fmt.pvalue(runner_up.p_value)}).")
    else:
        tail = (f" It cannot be told apart from the runner-up, {runner_up.other.label} ({fmt.num(runner_up.other.mean)}): "
                f"the difference {fmt.delta(runner_up.difference, best.mean)} is within seed noise (Welch's t-test, "
                f"p = {fmt.pvalue(runner_up.p_value)}). With {len(best.values)} seeds, {len(ties)} other configuration"
                f"{'s' if len(ties) != 1 else ''} cannot be told apart from the best either; choose among them by cost or "
                "by robustness to the learning rate, or add seeds." + _left_out(best, ties, ranked, orders))
    return Recommendation(best, runner_up, ties, len(ranked), n_seeds, head + tail)


def _test_score(best: Candidate, metric: str, selects_on: str) -> str:
    """The sentence on the best's test score: unbiased when a validation split chose it, else a warning."""
    if selects_on == "test":
        return (f" This study has no validation split (written before initopt held one out, or train.validation = 0): "
                "it was ranked on the test split, so that score is optimistic; run it with a validation split for "
                "an unbiased test score.")
    if not best.test_values:
        return ""
    interval = (f", 95% CI {fmt.interval(best.test_ci_low, best.test_ci_high, best.test_mean)}"
                if len(best.test_values) > 1 else "")
    return f" Test {metric}, on data that chose nothing: {fmt.pm(best.test_mean, best.test_std)}{interval}."


def _left_out(best: Candidate, ties: tuple[Candidate, ...], ranked: list[Candidate], orders) -> str:
    """What no tied configuration uses: the part of a tie a person can act on ("avoid zeros")."""
    parts = []
    for i, (what, attr) in enumerate((("initialization", "init"), ("optimizer", "optimizer"))):
        tried = orders[i] if orders else _ordered(getattr(c, attr) for c in ranked)
        kept = {getattr(c, attr) for c in (best, *ties)}
        dropped = [v for v in tried if v not in kept]
        if dropped and len(kept) > 1:
            listed = dropped[0] if len(dropped) == 1 else f"{', '.join(dropped[:-1])} or {dropped[-1]}"
            parts.append(f"{what} {listed}")
    return f" None of them uses {' or '.join(parts)}." if parts else ""


# ------------------------------------------------------------------------------------------ heatmaps


def against_advice(best: Candidate | None, ranked: list[Candidate], tied: set, study: StudyData) -> str:
    """A sentence when the winner's init goes against the common advice (a variance-scaling init such as
    He for ReLU) while such an init was tried: why it can win here, and where the advice holds."""
    if best is None or best.init.startswith(VARIANCE_SCALING):
        return ""
    scaled = next((c for c in ranked if c.init.startswith(VARIANCE_SCALING) and not math.isnan(c.mean)), None)
    if scaled is None:
        return ""
    hidden = (study.spec.get("workload") or {}).get("hidden")
    depth = (f"{len(hidden)} hidden layer{'s' if len(hidden) != 1 else ''}" if isinstance(hidden, list)
             else "its depth")
    versus = (f"{scaled.init} ({fmt.num(scaled.mean)}) cannot be told from it" if scaled.key in tied
              else f"{scaled.init} reaches {fmt.num(scaled.mean)}")
    return (f" Against the common advice (a variance-scaling init such as He for ReLU networks), {best.init} wins "
            f"here and {versus}: on a model of {depth} a small or unscaled init loses little of the signal on its "
            f"way through. Depth is where the advice holds: initopt doctor --init {_cli_scheme(best.init)} --depth 30 shows the "
            "signal vanish or explode layer by layer.")


def _cli_scheme(label: str) -> str:
    """An init label as the command line's ``--init`` takes it: ``normal(std=0.01)`` -> ``normal:std=0.01``."""
    name, _, params = label.partition("(")
    return f"{name}:{params.rstrip(')').replace(', ', ',')}" if params else name


NOISE_SPAN = 4.0  # a metric heatmap's colour scale spans at least this many typical seed standard deviations


def noise_scale(candidates: list[Candidate]) -> float:
    """The typical seed-to-seed standard deviation of the study's score: the median over candidates
    with at least two finished seeds (0 when none has)."""
    spreads = sorted(c.std for c in candidates if len(c.values) > 1 and math.isfinite(c.std))
    return spreads[len(spreads) // 2] if spreads else 0.0


def _honest(h: Heatmap | None, tied: set, noise: float) -> Heatmap | None:
    """The colour scale widened to at least ``NOISE_SPAN`` seed standard deviations, so that cells
    seed noise cannot tell apart get nearly one colour (a scale stretched to the data's range painted
    0.978 deep purple and 0.979 bright yellow); and the cells whose candidate is the best or within
    noise of it (Welch's test, the recommendation's ties) marked."""
    if h is None:
        return None
    finite = [v for row in h.values for v in row if math.isfinite(v)]
    low, high = h.value_range or ((min(finite), max(finite)) if finite else (0.0, 1.0))
    if high - low < NOISE_SPAN * noise:
        if h.higher_is_better:
            low = high - NOISE_SPAN * noise  # the best end stays where the best is
        else:
            high = low + NOISE_SPAN * noise
    marked = tuple(tuple(key in tied for key in row) for row in h.keys)
    return replace(h, value_range=(low, high), marked=marked)


def _cell_note(c: Candidate | None, with_wd: bool) -> str:
    if c is None:
        return ""
    if math.isnan(c.mean):
        return "all diverged" if c.n_diverged else "no result"
    note = f"{fmt.num(c.mean, 3)}\nlr {c.lr:g}" + (f"\nwd {c.weight_decay:g}" if with_wd else "")
    return note + (f"\n{c.n_bad}/{len(c.seeds)} div" if c.n_bad else "")


def init_optimizer_heatmap(candidates: list[Candidate], study: StudyData) -> Heatmap | None:
    """Rows: inits; columns: optimizers; each cell its best candidate over lr (and weight decay)."""
    if not candidates:
        return None
    inits, optimizers = study.inits(), study.optimizers()
    values, notes, keys = [], [], []
    by_cell: dict[tuple[str, str], list[Candidate]] = {}
    for c in candidates:
        by_cell.setdefault((c.init, c.optimizer), []).append(c)
    for init in inits:
        row_values, row_notes, row_keys = [], [], []
        for opt in optimizers:
            cell = by_cell.get((init, opt), [])
            best = _best(cell, study.lower_is_better)
            with_wd = len({c.weight_decay for c in cell}) > 1
            row_values.append(best.mean if best else math.nan)
            row_notes.append(_cell_note(best, with_wd))
            row_keys.append(best.key if best else None)
        values.append(tuple(row_values))
        notes.append(tuple(row_notes))
        keys.append(tuple(row_keys))
    return Heatmap(
        title=f"Best {study.metric} over learning rates, per init x optimizer (mean over seeds)",
        row_label="initialization", col_label="optimizer", rows=tuple(inits), cols=tuple(optimizers),
        values=tuple(values), notes=tuple(notes), value_label=study.selection_label,
        higher_is_better=not study.lower_is_better, keys=tuple(keys),
    )


def lr_wd_heatmaps(candidates: list[Candidate], study: StudyData) -> tuple[Heatmap, ...]:
    """One heatmap per optimizer tried on a grid of at least 2 lrs x 2 weight decays.

    The picture of Loshchilov & Hutter (2019, "Decoupled Weight Decay Regularization", Figure 2):
    with L2 in Adam the good region runs along a diagonal (the best decay moves with the lr); with
    decoupled decay it is closer to a rectangle (the two can be tuned separately).
    """
    out = []
    for opt in study.optimizers():
        mine = [c for c in candidates if c.optimizer == opt]
        lrs, wds = sorted({c.lr for c in mine}), sorted({c.weight_decay for c in mine})
        if len(lrs) < 2 or len(wds) < 2:
            continue
        several_inits = len({c.init for c in mine}) > 1
        values, notes, keys = [], [], []
        by_cell: dict[tuple[float, float], list[Candidate]] = {}
        for c in mine:
            by_cell.setdefault((c.lr, c.weight_decay), []).append(c)
        for wd in reversed(wds):  # largest decay on top, as in the paper's figure
            cells = [_best(by_cell.get((lr, wd), []), study.lower_is_better) for lr in lrs]
            values.append(tuple(c.mean if c else math.nan for c in cells))
            notes.append(tuple(_fmt_lr_wd_cell(c, several_inits) for c in cells))
            keys.append(tuple(c.key if c else None for c in cells))
        out.append(Heatmap(
            title=f"{opt}: {study.selection_label}, lr x weight decay" + (" (best init per cell)" if several_inits else ""),
            row_label="weight_decay", col_label="learning rate", rows=tuple(f"{w:g}" for w in reversed(wds)),
            cols=tuple(f"{lr:g}" for lr in lrs), values=tuple(values), notes=tuple(notes),
            value_label=study.selection_label, higher_is_better=not study.lower_is_better, keys=tuple(keys),
        ))
    finite = [v for h in out for row in h.values for v in row if math.isfinite(v)]
    if len(out) > 1 and finite:  # one colour scale, so the panels compare at a glance
        out = [replace(h, value_range=(min(finite), max(finite))) for h in out]
    return tuple(out)


def _fmt_lr_wd_cell(c: Candidate | None, with_init: bool) -> str:
    if c is None:
        return ""
    if math.isnan(c.mean):
        return "div" if c.n_diverged else "-"
    return fmt.num(c.mean, 3) + (f"\n{c.init}" if with_init else "") + (f"\n{c.n_bad} div" if c.n_bad else "")


def divergence_heatmap(candidates: list[Candidate], study: StudyData) -> Heatmap | None:
    """Share of seeds that diverged (or failed) per init x optimizer and lr, over every weight decay
    tried there; None when nothing diverged or failed (the section says so in one line).

    Each cell says ``k/n`` and, when some diverged, ``e<E>``: the earliest epoch whose loss was
    non-finite. Weight decays are summed in a cell (a 10,000-configuration study would otherwise
    draw a row per init x optimizer x weight decay).
    """
    if not any(c.n_bad for c in candidates):
        return None
    several_wd = len({c.weight_decay for c in candidates}) > 1
    rows = [f"{init} + {opt}" for init in study.inits() for opt in study.optimizers()]
    lrs = sorted({c.lr for c in candidates})
    cells: dict[tuple[str, float], list[Candidate]] = {}
    for c in candidates:
        cells.setdefault((f"{c.init} + {c.optimizer}", c.lr), []).append(c)
    rows = [r for r in rows if any((r, lr) in cells for lr in lrs)]
    values, notes = [], []
    for row in rows:
        row_values, row_notes = [], []
        for lr in lrs:
            members = cells.get((row, lr), [])
            if not members:
                row_values.append(math.nan)
                row_notes.append("")
                continue
            bad, seeds = sum(c.n_bad for c in members), sum(len(c.seeds) for c in members)
            failed = sum(c.n_failed for c in members)
            first = min((e for c in members for e in c.diverged_epochs), default=None)
            row_values.append(bad / seeds)
            row_notes.append(f"{bad}/{seeds}" + (f"\ne{first}" if first is not None else "") + (f"\n{failed} failed" if failed else ""))
        values.append(tuple(row_values))
        notes.append(tuple(row_notes))
    return Heatmap(
        title="Divergence: seeds whose loss went non-finite (cell: diverged/seeds, eN = first epoch)"
              + (", all weight decays together" if several_wd else ""),
        row_label="init + optimizer", col_label="learning rate", rows=tuple(rows), cols=tuple(f"{lr:g}" for lr in lrs),
        values=tuple(values), notes=tuple(notes), value_label="share of seeds diverged", higher_is_better=False,
        kind="fraction",
    )


def diverged_runs(study: StudyData) -> tuple[DivergedRun, ...]:
    bad = [c for c in study.configs if c.status in (Status.DIVERGED, Status.FAILED)]
    return tuple(
        DivergedRun(c.init, variant_label(c), float(c.lr or 0.0), float(c.weight_decay or 0.0), c.seed,
                    c.diverged_epoch, c.status.value, (c.error or None) and c.error.splitlines()[0])
        for c in bad
    )


# ------------------------------------------------------------------------------------------ curves


def make_curve(c: Candidate, study: StudyData, label: str | None = None) -> Curve:
    """Mean and min..max over seeds of train and validation loss at each epoch.

    A seed that diverged stops contributing at its non-finite epoch; an epoch where no seed has a
    finite loss is NaN (a gap in the line).
    """
    per_seed = [study.epochs.get(i, ()) for i in c.config_ids]
    epochs = sorted({e.epoch for rows in per_seed for e in rows})
    series: dict[str, list[list[float]]] = {"train": [], "val": []}
    for epoch in epochs:
        train = stats.finite([e.train_loss for rows in per_seed for e in rows if e.epoch == epoch])
        val = stats.finite([e.val_loss for rows in per_seed for e in rows if e.epoch == epoch])
        for key, vals in (("train", train), ("val", val)):
            series[key].append([sum(vals) / len(vals), min(vals), max(vals)] if vals else [math.nan] * 3)
    cols = {k: tuple(zip(*v)) if v else ((), (), ()) for k, v in series.items()}
    label = label or c.short_label
    late = [v for v in cols["val"][0][len(epochs) // 2 :] if math.isfinite(v)]  # the mean's second half
    if late and min(late) > 0 and max(late) > UNSTABLE_RATIO * min(late):
        label += f" (unstable: val loss {fmt.num(min(late), 2)} to {fmt.num(max(late), 2)})"
    return Curve(label, tuple(epochs), *cols["train"], *cols["val"], n_seeds=len(c.seeds))


def curve_panels(ranked: list[Candidate], study: StudyData) -> tuple[CurvePanel, ...]:
    """Top candidates; and each init with its best optimizer (the heatmap's row winners)."""
    scored = [c for c in ranked if not math.isnan(c.mean)]
    if not scored:
        return ()
    top = CurvePanel(f"Top {min(TOP_CURVES, len(scored))} configurations", tuple(make_curve(c, study) for c in scored[:TOP_CURVES]))
    per_init = []
    for init in study.inits():
        best = _best([c for c in ranked if c.init == init], study.lower_is_better)
        if best is not None:
            per_init.append(make_curve(best, study, label=best.short_label))
    return (top, CurvePanel("Each initialization with its best optimizer and lr", tuple(per_init)))


# ------------------------------------------------------------------------------------- sensitivity


def sensitivity_panels(candidates: list[Candidate], study: StudyData) -> tuple[SensitivityPanel, ...]:
    """Per optimizer, per init: the final metric at each lr (best weight decay there), with its CI."""
    lower_is_better = study.lower_is_better
    panels = []
    for opt in study.optimizers():
        lines = []
        for init in study.inits():
            mine = [c for c in candidates if c.optimizer == opt and c.init == init]
            if not mine:
                continue
            lrs = sorted({c.lr for c in mine})
            best = [_best([c for c in mine if c.lr == lr], lower_is_better) for lr in lrs]
            lines.append(SensitivityLine(
                init, tuple(lrs), tuple(c.mean for c in best), tuple(c.ci_low for c in best),
                tuple(c.ci_high for c in best), tuple(c.n_diverged for c in best), tuple(len(c.seeds) for c in best),
            ))
        panels.append(SensitivityPanel(opt, tuple(lines)))
    return tuple(panels)


# -------------------------------------------------------------------------------------- importance

IMPORTANCE_PARAMS = ("init", "optimizer", "lr", "weight_decay")


def importance_section(study: StudyData, candidates: list[Candidate]) -> tuple[ImportanceResult, str]:
    """fANOVA over the grid points (candidates), each scored by the mean over its seeds, a diverged seed
    counted at the worst score any seed reached.

    Seeds are noise, not a setting: one point per candidate. Leaving diverged seeds out would hide
    the largest effect of the learning rate (too large a rate does not train at all), so they count
    as the worst final score of the study. Failed seeds (a crash, not an outcome of the settings)
    are left out.
    """
    scored = [v for c in candidates for v in c.values]
    if not scored:
        return fanova_importance([], []), "No run finished with a finite metric."
    worst = (max if study.lower_is_better else min)(scored)
    points, values, n_diverged = [], [], 0
    for c in candidates:
        seeds = list(c.values) + [worst] * c.n_diverged
        if not seeds:
            continue
        n_diverged += c.n_diverged
        points.append({"init": c.init, "optimizer": c.optimizer, "lr": c.lr, "weight_decay": c.weight_decay})
        values.append(sum(seeds) / len(seeds))
    result = fanova_importance(points, values)
    note = f"{len(points)} grid points ({len(scored)} finished runs"
    if n_diverged:
        note += f" and {n_diverged} diverged runs, scored at the worst final {study.metric} reached ({fmt.num(worst)})"
    note += "). Parameters with a single value in the study are left out."
    return result, note


# ------------------------------------------------------------------------------- timing and notes


def _parse_time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def timing(study: StudyData) -> Timing:
    starts = [t for t in (_parse_time(r.started) for r in study.runs) if t]
    ends = [t for t in (_parse_time(r.finished) for r in study.runs) if t]
    span = (max(ends) - min(starts)).total_seconds() if starts and ends else None
    total = sum(c.wall_seconds or 0.0 for c in study.configs)
    counts = tuple((s.value, study.count(s)) for s in Status if study.count(s))
    return Timing(total, span, study.runs, counts)


def reader_notes(study: StudyData) -> tuple[str, ...]:
    notes = []
    unfinished = study.count(Status.PENDING) + study.count(Status.RUNNING)
    if unfinished:
        notes.append(f"{unfinished} of {len(study.configs)} configurations have not finished: the study is in progress "
                     "or was interrupted (run it again to resume). They are left out of every number below.")
    if study.count(Status.FAILED):
        failed = study.count(Status.FAILED)
        notes.append(f"{failed} configuration{'s' if failed != 1 else ''} failed with an error (see the divergence section).")
    seeds = {c.seed for c in study.configs}
    if len(seeds) < 2:
        notes.append("One seed per configuration: no spread, interval or test is possible. Add seeds to the grid.")
    return tuple(notes)
