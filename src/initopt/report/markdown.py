"""The report as Markdown with its PNGs in a folder beside it, for pull requests and papers.

``report.md`` links ``report_files/heatmap.png`` and so on, and ``report_leaderboard.csv`` holds
every row of the leaderboard (the Markdown table shows the top ``MARKDOWN_ROWS``). User strings are
escaped for Markdown and for the HTML that Markdown renderers pass through.
"""

from __future__ import annotations

import html
import math
import re
from urllib.parse import quote
from collections.abc import Sequence
from pathlib import Path

from initopt.report import fmt
from initopt.report.data import Report
from initopt.report.leaderboard import leaderboard_records
from initopt.report.plots import Picture

MARKDOWN_ROWS = 20  # leaderboard rows in the Markdown table; the CSV has them all
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # emphasis, code, links, table cells, strike-through
_LINE_START = re.compile(r"^(\s*)([#>+-]|\d+(?=[.)]))")  # a heading, quote or list item if it began a line


def escape(value: object) -> str:
    """Text that renders as itself in Markdown: HTML entities (so no tag survives), inline markup
    characters backslashed, and a leading character that would start a block made literal."""
    text = html.escape(str(value), quote=False).replace("\n", " ")
    text = _INLINE_SPECIAL.sub(r"\\\1", text)
    # "# x" becomes "\# x"; "1. x" becomes "1\. x" (a list marker is escaped at its punctuation)
    return _LINE_START.sub(lambda m: m.group(1) + (m.group(2) + "\\" if m.group(2)[0].isdigit() else "\\" + m.group(2)), text)


def render_markdown(report: Report, pictures: Sequence[Picture], files_dir: str, csv_name: str) -> str:
    """The Markdown text; ``files_dir`` is the pictures' folder relative to the ``.md`` file."""
    study, rec = report.study, report.recommendation
    by_section: dict[str, list[Picture]] = {}
    for p in pictures:
        by_section.setdefault(p.section, []).append(p)

    def figures(section: str) -> list[str]:
        return [f"![{escape(p.alt)}]({quote(files_dir)}/{quote(p.name)}.png)\n\n*{escape(p.caption)}*\n"
                for p in by_section.get(section, [])]

    counts = ", ".join(f"{n} {s}" for s, n in report.timing.counts)
    lines = [f"# Study report: {escape(study.name)}", ""]
    if study.description:
        lines += [escape(study.description), ""]
    lines += [f"{len(study.configs)} configurations ({counts}); ranked by {escape(report.metric_title)}.", ""]
    lines += [f"> **Note:** {escape(note)}\n" for note in report.notes]

    n = 0

    def heading(title: str) -> str:
        nonlocal n
        n += 1
        return f"## {n}. {title}\n"

    lines.append(heading("Recommendation"))
    if rec.best is not None:
        b = rec.best
        lines.append(f"**Use {escape(b.init)} with {escape(b.optimizer)}, lr = {b.lr:g}, weight_decay = {b.weight_decay:g}.**\n")
    lines.append(escape(rec.verdict) + "\n")
    if rec.runner_up is not None and math.isfinite(rec.runner_up.p_value):  # else the verdict says why no test
        r = rec.runner_up
        lines.append(f"Welch's two-sided t-test over seeds, best vs runner-up: difference {fmt.delta(r.difference, rec.best.mean)}, "
                     f"p = {fmt.pvalue(r.p_value)} ({'told apart' if r.told_apart else 'not told apart'} at the 5% level). "
                     f"The best is picked from {rec.n_candidates} candidates on the same runs, so its mean is optimistic.\n")

    if len(rec.per_optimizer) > 1:
        lines.append("The best setting of each optimizer:\n")
        lines += [f"- best {escape(c.optimizer)}: lr {c.lr:g}, weight decay {c.weight_decay:g}, {escape(c.init)}: "
                  f"{fmt.pm(c.mean, c.std)}" for c in rec.per_optimizer]
        lines.append("")
    if rec.best is not None:
        from initopt.report.data import config_of
        from initopt.report.snippet import decay_rule_text, snippet

        lines.append(f"Weight decay: {escape(decay_rule_text(report.study.no_decay))}\n")
        row = config_of(report.study, rec.best)
        for title, kind in (("PyTorch", "python"), ("Keras 3", "keras")):
            lines.append(f"Use it with {title} (`initopt study best --format {kind}`):\n")
            code = snippet(row, kind, report.study.no_decay).rstrip()
            lines.append(f"{_fence(code)}python\n{code}\n{_fence(code)}\n")

    records = leaderboard_records(report)
    if report.ladder:
        lines.append(heading("Successive halving"))
        lines.append(escape(report.ladder.note) + "\n")
        lines.append("| after epoch | configurations | settings | went on | pruned |\n|---:|---:|---:|---:|---:|")
        last = len(report.ladder.rungs) - 1
        lines += [f"| {r.epoch} | {r.reached} | {r.settings} | {r.went_on if i < last else '-'} | "
                  f"{r.reached - r.went_on if i < last else '-'} |" for i, r in enumerate(report.ladder.rungs)]
        lines.append("")
    if report.transfer:
        lines.append(heading("Width transfer"))
        lines += [escape(panel.sentence) + ".\n" for panel in report.transfer]
        widths = sorted({line.width for panel in report.transfer for line in panel.lines})
        lines.append("| parametrization | " + " | ".join(f"best lr at width {w}" for w in widths) + " | moves |")
        lines.append("|---|" + "---:|" * (len(widths) + 1))
        for panel in report.transfer:
            best = {line.width: line for line in panel.lines}
            cells = " | ".join(f"{best[w].best_lr:g}" if w in best else "" for w in widths)
            lines.append(f"| {escape(panel.parametrization)} | {cells} | {panel.moves:.3g}x |")
        lines.append("")
        lines += figures("transfer")
    lines.append(heading("Leaderboard"))
    lines.append(f"Top {min(MARKDOWN_ROWS, len(records))} of {len(records)}, mean ± std and 95% CI over seeds; "
                 f"all rows in [{escape(csv_name)}]({quote(csv_name)}).\n")
    lines.append("| rank | init | optimizer | lr | weight decay | mean ± std | 95% CI | test mean ± std | seeds | diverged |")
    lines.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in records[:MARKDOWN_ROWS]:
        lines.append(f"| {r['rank']} | {escape(r['init'])} | {escape(r['optimizer'])} | {r['lr']:g} | {r['weight_decay']:g} | "
                     f"{fmt.pm(r['mean'], r['std'])} | {fmt.interval(r['ci_low'], r['ci_high'], r['mean'])} | "
                     f"{fmt.pm(r['test_mean'], r['test_std'])} | {r['seeds_finished']}/{r['seeds']} | {r['diverged'] + r['failed']} |")
    lines.append("")

    lines.append(heading("Init x optimizer"))
    lines += figures("heatmap") or ["No configuration has a result yet.\n"]
    lines.append(heading("Learning curves"))
    lines += figures("curves") or ["No configuration has a result yet.\n"]
    lines.append(heading("Learning-rate sensitivity"))
    lines += figures("sensitivity")
    if report.lr_wd:
        lines.append(heading("Learning rate x weight decay"))
        lines += figures("lr-wd")
    else:
        from initopt.report.html import NO_LR_WD

        lines.append(NO_LR_WD + "\n")
    lines.append(heading("Divergence"))
    diverged = sum(r.status == "diverged" for r in report.diverged_runs)
    if report.diverged_runs:
        lines.append(f"{diverged} runs diverged and {len(report.diverged_runs) - diverged} failed.\n")
    else:
        lines.append("No configuration diverged or failed: every run kept a finite loss to the end (no map to draw).\n")
    lines += figures("divergence")
    lines.append(heading("Importance"))
    if report.importance.shares:
        lines.append(f"Computed by {escape(report.importance.method)}, over "
                     f"{escape(report.importance_note)}\n")
        lines.append("| parameter | share of variance |\n|---|---:|")
        lines += [f"| {escape(name)} | {share:.1%} |" for name, share in report.importance.shares]
        lines.append("")
        lines += figures("importance")
    else:
        lines.append(f"Not computed: {escape(report.importance.skipped or 'no data')}.\n")

    lines.append(heading("Spec, environment and timing"))
    t = report.timing
    lines.append(f"Study wall time {fmt.seconds(t.study_seconds)}; sum of the configurations' recorded times "
                 f"{fmt.seconds(t.total_config_seconds)}.\n")
    if study.environment:
        lines.append("| | |\n|---|---|")
        lines += [f"| {escape(k)} | {escape(v)} |" for k, v in sorted(study.environment.items())]
        lines.append("")
    spec = fmt.compact_json(study.spec)
    fence = _fence(spec)
    lines += [f"{fence}json", spec, fence, ""]
    return "\n".join(lines)


# the names ``plots.pictures`` gives its pictures
REPORT_PICTURE = re.compile(r"heatmap|curves-[a-z0-9-]+|lr-sensitivity|lr-wd-\d+|divergence|importance")


def write_markdown(report: Report, pictures: Sequence[Picture], out: Path) -> Path:
    """``out`` (.md), its pictures in ``<stem>_files/`` and ``<stem>_leaderboard.csv`` beside it."""
    from initopt.report.leaderboard import to_csv

    files = out.parent / f"{out.stem}_files"
    files.mkdir(exist_ok=True)
    names = {f"{p.name}.png" for p in pictures}
    for stale in files.glob("*.png"):  # pictures of an earlier report that this one no longer has;
        if stale.name not in names and REPORT_PICTURE.fullmatch(stale.stem):  # never a file of the user's
            stale.unlink()
    for p in pictures:
        (files / f"{p.name}.png").write_bytes(p.png)
    csv_name = f"{out.stem}_leaderboard.csv"
    (out.parent / csv_name).write_text(to_csv(leaderboard_records(report)), encoding="utf-8")
    out.write_text(render_markdown(report, pictures, files.name, csv_name), encoding="utf-8")
    return out


def _fence(code: str) -> str:
    """A code fence longer than any run of backticks in ``code`` (CommonMark): the block shows its text
    literally, whatever a study's strings hold."""
    return "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", code)), default=0))

