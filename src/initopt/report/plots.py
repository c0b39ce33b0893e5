"""Draw a report's records with matplotlib: heatmaps, learning curves, lr sensitivity, importance.

Every function takes records from ``data.py`` and returns a ``matplotlib.figure.Figure`` drawn on the
Agg canvas (no pyplot, so no global figure state and no display needed). ``pictures(report)`` draws
them all as PNG bytes with a title, alt text and caption, for the HTML and Markdown renderers.

Colours: lines use the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"; Wong 2011,
Nature Methods 8:441), told apart by marker too; heatmaps use viridis (metric) and magma
(divergence), perceptually uniform and readable with the common colour-vision deficiencies.
User strings (init names, study names) are drawn with mathtext off, so a ``$`` stays a ``$``.
"""

from __future__ import annotations

import io
import weakref
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from initopt.report.data import CurvePanel, Heatmap, Report, SensitivityPanel
from initopt.report.importance import ImportanceResult

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DPI = 100  # a report is read on screen; 100 dpi keeps the embedded PNGs small
BAND_ALPHA = 0.18
LOG_Y_RATIO = 30  # losses spanning more than this factor get a log axis
SENSITIVITY_COLUMNS = 4
Y_PAD = 0.15  # of the means' range, above and below: bars that reach further are cut at the panel's edge
MIN_ROW_HEIGHT = 0.6  # inches per row of a small heatmap: cells closer to squares than to strips
FEW_ROWS = 8
CHARS_PER_INCH = 11  # of a 10-point title: where to wrap it
MAX_HEATMAP_HEIGHT = 20.0  # inches; rows beyond it get squeezed rather than a page-long picture
RC = {"text.parse_math": False, "font.size": 9, "axes.titlesize": 10, "figure.titlesize": 11,
      "axes.spines.top": False, "axes.spines.right": False}  # fmt: skip


@dataclass(frozen=True)
class Picture:
    name: str  # file stem: heatmap, curves-top, ...
    section: str  # the report section it belongs to
    title: str
    alt: str
    caption: str
    png: bytes


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def style(i: int) -> dict:
    """Colour and marker of the i-th series (cycles after 8, with a dashed line the second time)."""
    return {"color": OKABE_ITO[i % len(OKABE_ITO)], "marker": MARKERS[i % len(MARKERS)],
            "linestyle": "-" if i < len(OKABE_ITO) else "--"}


# ------------------------------------------------------------------------------------------ heatmap


MAX_NOTED_CELLS = 60  # a heatmap with more cells is drawn without the text in each (it would not be legible)


def heatmap_figure(h: Heatmap):
    import numpy as np
    from matplotlib import colormaps

    with _rc():
        n_rows, n_cols = len(h.rows), len(h.cols)
        longest_row = max((len(r) for r in h.rows), default=4)
        width = min(16.0, 3.2 + 0.075 * longest_row + 0.95 * n_cols)
        lines = max((n.count("\n") + 1 for r in h.notes for n in r), default=1)
        row_height = max(MIN_ROW_HEIGHT if n_rows <= FEW_ROWS else 0.0, 0.2 + 0.14 * lines)
        height = min(MAX_HEATMAP_HEIGHT, 1.8 + n_rows * row_height)
        fig = _figure(width, height)
        ax = fig.add_subplot()
        data = np.array(h.values, dtype=float).reshape(n_rows, n_cols)
        if h.kind == "fraction":
            cmap, vmin, vmax = colormaps["magma_r"], 0.0, 1.0
        else:
            cmap = colormaps["viridis" if h.higher_is_better else "viridis_r"]
            finite = data[np.isfinite(data)]
            vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            if h.value_range is not None:
                vmin, vmax = h.value_range
            if vmin == vmax:
                vmin, vmax = vmin - 0.5, vmax + 0.5
        cmap = cmap.with_extremes(bad="#eeeeee")
        image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(n_cols), labels=h.cols, rotation=30 if max((len(c) for c in h.cols), default=0) > 8 else 0,
                      ha="right" if max((len(c) for c in h.cols), default=0) > 8 else "center")
        ax.set_yticks(range(n_rows), labels=h.rows)
        ax.set_xlabel(h.col_label)
        ax.set_ylabel(h.row_label)
        ax.set_title(textwrap.fill(h.title, width=int(width * CHARS_PER_INCH)), loc="left")
        ax.spines[:].set_visible(False)
        from matplotlib.patches import Rectangle

        with_notes = n_rows * n_cols <= MAX_NOTED_CELLS  # beyond, the colours and the outlines speak
        for i in range(n_rows):
            for j in range(n_cols):
                if h.marked and h.marked[i][j]:
                    ax.add_patch(Rectangle((j - 0.46, i - 0.46), 0.92, 0.92, fill=False, edgecolor="#d62728",
                                           linewidth=2.0 if with_notes else 1.2))
                note = h.notes[i][j]
                if not note or not with_notes:
                    continue
                value = data[i, j]
                dark = math.isfinite(value) and _luminance(cmap((value - vmin) / (vmax - vmin))) < 0.45
                ax.text(j, i, note, ha="center", va="center", fontsize=7.5, color="white" if dark else "black")
        fig.colorbar(image, ax=ax, label=h.value_label, shrink=0.8)
    return fig


def _luminance(rgba) -> float:
    r, g, b = rgba[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# ------------------------------------------------------------------------------------------- curves


def curves_figure(panel: CurvePanel):
    """Train and validation loss per epoch: mean over seeds, band from the lowest to the highest seed."""
    with _rc():
        fig = _figure(10.0, 3.6 + 0.18 * len(panel.curves))
        axes = fig.subplots(1, 2, sharex=True)
        for ax, which in zip(axes, ("train", "val")):
            for i, curve in enumerate(panel.curves):
                mean, low, high = (getattr(curve, f"{which}_{k}") for k in ("mean", "low", "high"))
                s = style(i)
                ax.plot(curve.epochs, mean, color=s["color"], linestyle=s["linestyle"], marker=s["marker"],
                        markersize=3.5, label=f"{curve.label} ({curve.n_seeds} seeds)")
                ax.fill_between(curve.epochs, low, high, color=s["color"], alpha=BAND_ALPHA, linewidth=0)
            _maybe_log_y(ax, [v for c in panel.curves for v in (*c.train_high, *c.val_high, *c.train_low, *c.val_low)])
            ax.set_xlabel("epoch")
            ax.set_ylabel(f"{'training' if which == 'train' else 'validation'} loss")
            ax.set_title(f"{'Training' if which == 'train' else 'Validation'} loss", loc="left")
            ax.grid(alpha=0.3)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.suptitle(f"{panel.title}: mean over seeds, band from lowest to highest seed")
        # two columns only where every label fits half the width (a clipped legend names no configuration)
        two = len(labels) > 3 and max(len(label) for label in labels) <= LEGEND_HALF_WIDTH_CHARS
        fig.legend(handles, labels, loc="outside lower center", ncols=2 if two else 1, frameon=False)
    return fig


LEGEND_HALF_WIDTH_CHARS = 60  # characters of a legend label that fit half of a 10-inch figure at 9 pt


def _maybe_log_y(ax, values: Sequence[float]) -> None:
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > LOG_Y_RATIO:
        ax.set_yscale("log")


# -------------------------------------------------------------------------------------- sensitivity


def sensitivity_figure(panels: Sequence[SensitivityPanel], metric: str, lower_is_better: bool):
    """Final metric vs learning rate (log axis): a panel per optimizer, a line per init, 95% CI bars.

    A flat, high line is an init x optimizer that forgives a badly chosen lr; an ``x`` on the bottom
    edge marks an lr where every seed diverged.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter
    from matplotlib.transforms import blended_transform_factory

    with _rc():
        n = len(panels)
        n_cols = min(SENSITIVITY_COLUMNS, n)
        n_rows = math.ceil(n / n_cols)
        fig = _figure(3.3 * n_cols + 0.8, 2.9 * n_rows + 1.0)
        axes = fig.subplots(n_rows, n_cols, sharey=True, squeeze=False).ravel()
        inits: dict[str, int] = {}
        for ax, panel in zip(axes, panels):
            for line in panel.lines:
                i = inits.setdefault(line.init, len(inits))
                s = style(i)
                lows = [m - lo if math.isfinite(lo) else 0.0 for m, lo in zip(line.means, line.lows)]
                highs = [hi - m if math.isfinite(hi) else 0.0 for m, hi in zip(line.means, line.highs)]
                ax.errorbar(line.lrs, line.means, yerr=[lows, highs], color=s["color"], marker=s["marker"],
                            linestyle=s["linestyle"], markersize=4, capsize=2.5, label=line.init)
                dead = [lr for lr, m, d in zip(line.lrs, line.means, line.diverged) if not math.isfinite(m) and d]
                if dead:
                    ax.scatter(dead, [0.02] * len(dead), marker="x", color=s["color"], s=40, clip_on=False,
                               transform=blended_transform_factory(ax.transData, ax.transAxes))
            ax.set_xscale("log")
            # within a decade the log axis labels its minor ticks, which overlap: label the lrs tried instead
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xticks(sorted({lr for line in panel.lines for lr in line.lrs}))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.set_title(textwrap.fill(panel.optimizer, width=int(3.3 * CHARS_PER_INCH)), loc="left")
            ax.set_xlabel("learning rate (log scale)")
            ax.grid(alpha=0.3)
        means = [m for panel in panels for line in panel.lines for m in line.means if math.isfinite(m)]
        if means:  # limits from the means: with 2 seeds a 95% interval is +-12.7 s/sqrt(2) and would flatten every line
            low, high = min(means), max(means)
            pad = Y_PAD * ((high - low) or abs(high) or 1.0)
            axes[0].set_ylim(low - pad, high + pad)
        for ax in axes[::n_cols]:
            ax.set_ylabel(metric)
        for ax in axes[n:]:
            ax.set_visible(False)
        arrow = "lower is better" if lower_is_better else "higher is better"
        title = f"Learning-rate sensitivity: {metric} ({arrow}), mean and 95% CI over seeds; x = all seeds diverged"
        fig.suptitle(textwrap.fill(title, width=int(fig.get_figwidth() * CHARS_PER_INCH)))
        by_label: dict = {}
        for ax in axes[:n]:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                by_label.setdefault(label, handle)
        fig.legend(list(by_label.values()), list(by_label), title="initialization", loc="outside right center", frameon=False)
    return fig


# --------------------------------------------------------------------------------------- transfer


def transfer_figure(panels, metric: str, lower_is_better: bool):
    """The objective against the learning rate (log axis): a panel per parametrization (SP, muP), a line per
    width, a star at each width's best lr: under a parametrization that transfers, the stars line up."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    with _rc():
        n = len(panels)
        fig = _figure(3.6 * n + 1.2, 3.4)
        axes = fig.subplots(1, n, sharey=True, squeeze=False).ravel()
        for ax, panel in zip(axes, panels):
            for i, line in enumerate(panel.lines):
                s = style(i)
                ax.plot(line.lrs, line.means, color=s["color"], marker=s["marker"], linestyle=s["linestyle"],
                        markersize=4, label=str(line.width))
                ax.scatter([line.best_lr], [line.best], marker="*", s=140, color=s["color"], zorder=3)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            lrs = sorted({lr for line in panel.lines for lr in line.lrs})
            ax.set_xticks(lrs[:: max(1, math.ceil(len(lrs) / 5))])  # the lrs tried, at most five labelled
            ax.set_title(textwrap.fill(panel.sentence, width=int(3.6 * CHARS_PER_INCH)), loc="left")
            ax.set_xlabel("learning rate (log scale)")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel(metric)
        arrow = "lower is better" if lower_is_better else "higher is better"
        fig.suptitle(f"Width transfer: {metric} ({arrow}) against the learning rate; * = each width's best")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, title="width", loc="outside right center", frameon=False)
    return fig


# --------------------------------------------------------------------------------------- importance


def importance_figure(result: ImportanceResult):
    with _rc():
        names = [name for name, _ in result.shares][::-1]
        shares = [share for _, share in result.shares][::-1]
        fig = _figure(6.5, 1.4 + 0.45 * len(names))
        ax = fig.add_subplot()
        bars = ax.barh(names, shares, color=OKABE_ITO[0])
        ax.bar_label(bars, labels=[f"{s:.0%}" for s in shares], padding=3)
        ax.set_xlim(0, max(1.0, max(shares, default=0) * 1.15))
        ax.set_xlabel("share of the variance of the score (fANOVA main effects, sum to 100%)")
        ax.set_ylabel("parameter")
        ax.set_title("What drives the score: fANOVA importance", loc="left")
        ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    return fig


# ------------------------------------------------------------------------------------------ all


_DRAWN: dict[int, tuple[Picture, ...]] = {}  # id(report) -> its pictures, while the report lives


def pictures(report: Report) -> tuple[Picture, ...]:
    """Every figure of ``report`` as PNG bytes, in the order of the report's sections; drawn once per
    report (its HTML and its Markdown share them: drawing is most of a report's rendering time)."""
    key = id(report)
    if key not in _DRAWN:
        _DRAWN[key] = _draw(report)
        weakref.finalize(report, _DRAWN.pop, key, None)
    return _DRAWN[key]


def _png(job) -> bytes:
    """One figure drawn and encoded: ``job`` is ``(builder, args)``, a module-level function and its records."""
    builder, args = job
    return to_png(builder(*args))


def _drawing_processes(n_jobs: int) -> int:
    """How many processes draw: one per core (at most 4), on Linux (fork keeps the parent's imports and
    font cache, so a worker starts in milliseconds), else one."""
    import os
    import sys

    if n_jobs < 2 or not sys.platform.startswith("linux"):
        return 1
    return max(1, min(n_jobs, os.cpu_count() or 1, 4))


def _render(jobs: list) -> list[bytes]:
    """The PNGs of ``jobs``, drawn in parallel processes where there are cores (matplotlib draws in
    Python under one lock per process: threads would not help), else here."""
    workers = _drawing_processes(len(jobs))
    if workers > 1:
        import concurrent.futures
        import multiprocessing

        try:
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                return list(pool.map(_png, jobs))
        except (OSError, concurrent.futures.process.BrokenProcessPool):  # no processes to be had: draw here
            pass
    return [_png(job) for job in jobs]


def _draw(report: Report) -> tuple[Picture, ...]:
    out: list[tuple] = []
    metric = report.study.metric
    label = report.study.selection_label  # "final validation accuracy", "best-epoch validation accuracy", ...

    def add(name: str, section: str, job, title: str, alt: str, caption: str) -> None:
        out.append((name, section, job, title, alt, caption))

    if report.heatmap is not None:
        add("heatmap", "heatmap", (heatmap_figure, (report.heatmap,)), "Init x optimizer",
            f"Heatmap of the best {label} per initialization and optimizer",
            f"Each cell: the mean {label} over seeds of the best learning rate for that "
            "init and optimizer, and that learning rate. Bright is better; outlined in red: the best and every cell "
            "seed noise cannot tell from it (Welch's test); the colour scale spans at least four typical seed "
            "standard deviations, so cells within noise look alike; grey: not tried, or no seed finished.")
    for i, h in enumerate(report.lr_wd):
        add(f"lr-wd-{i + 1}", "lr-wd", (heatmap_figure, (h,)), h.title,
            f"Heatmap of {label} over learning rate and weight decay",
            f"Mean {label} over seeds for each learning rate (columns) and weight decay "
            "(rows). A diagonal ridge means the best weight decay moves with the learning rate; a "
            "rectangle means the two can be tuned separately (Loshchilov & Hutter 2019, Fig. 2). Outlined in red: "
            "the study's best and every cell seed noise cannot tell from it.")
    for i, panel in enumerate(report.curves):
        add(f"curves-{'top' if i == 0 else 'inits'}", "curves", (curves_figure, (panel,)), panel.title,
            f"Learning curves: {panel.title}",
            "Training and validation loss per epoch, the mean over seeds with a band from the lowest to "
            "the highest seed. Diverged seeds drop out at their first non-finite epoch.")
    if report.sensitivity:
        add("lr-sensitivity", "sensitivity", (sensitivity_figure, (report.sensitivity, label, report.study.lower_is_better)),
            "Learning-rate sensitivity", f"Final validation {metric} against learning rate, one panel per optimizer",
            "A panel per optimizer, a line per initialization, at each learning rate its best weight decay. "
            f"Bars: 95% confidence interval over {_seed_count(report)} (cut at the panel's edge; with few seeds they are wide). "
            "A flat line forgives a badly chosen learning rate.")
    if report.divergence is not None:
        add("divergence", "divergence", (heatmap_figure, (report.divergence,)), "Divergence map",
            "Map of the share of seeds that diverged per configuration and learning rate",
            "Share of seeds whose loss became NaN or infinite; eN is the first such epoch. Dark is worse; grey: not tried.")
    if report.transfer:
        add("transfer", "transfer", (transfer_figure, (report.transfer, label, report.study.lower_is_better)),
            "Width transfer", f"{label} against learning rate, one line per width, a panel per parametrization",
            "At each learning rate the best of the other settings (init, optimizer, weight decay), mean over seeds; "
            "a star marks each width's best learning rate. Where the stars line up, the learning rate tuned at "
            "one width is the one for the others.")
    if report.importance.shares:
        add("importance", "importance", (importance_figure, (report.importance,)), "Importance",
            "Bar chart of the fANOVA importance of each parameter", report.importance.method)
    pngs = _render([job for _, _, job, _, _, _ in out])
    return tuple(Picture(name, section, title, alt, caption, png)
                 for (name, section, _, title, alt, caption), png in zip(out, pngs))


def _seed_count(report: Report) -> str:
    """``3 seeds``, or ``2 to 3 seeds`` where grid points have different numbers of seeds."""
    counts = sorted({len(c.seeds) for c in report.candidates})
    if not counts:
        return "seeds"
    return f"{counts[0]} seed{'s' if counts[0] != 1 else ''}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]} seeds"


def _rc():
    import matplotlib

    return matplotlib.rc_context(RC)

