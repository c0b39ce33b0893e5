"""One self-contained HTML file: the report's records as text, tables and embedded PNGs.

No network: no external scripts, styles, fonts or images; PNGs are ``data:`` URIs. Every string that
comes from the user or the store (study name, description, init and optimizer labels, spec values,
environment, error messages) goes through ``escape`` -- a study named ``<script>alert(1)</script>``
shows as that text. As a second line of defence a Content-Security-Policy allows only the one inline
script (by its SHA-256 hash), inline styles and ``data:`` images, so a string that slipped through
could still not run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections.abc import Iterable, Sequence

from initopt.report import fmt
from initopt.report.data import Candidate, Report
from initopt.report.leaderboard import leaderboard_records, to_csv
from initopt.report.plots import Picture

SECTIONS = (
    ("recommendation", "Recommendation"),
    ("ladder", "Successive halving"),
    ("transfer", "Width transfer"),
    ("leaderboard", "Leaderboard"),
    ("heatmap", "Init x optimizer"),
    ("curves", "Learning curves"),
    ("sensitivity", "Learning-rate sensitivity"),
    ("lr-wd", "Learning rate x weight decay"),
    ("divergence", "Divergence"),
    ("importance", "Importance"),
    ("setup", "Spec, environment and timing"),
)

# The leaderboard: every row in a JSON block, shown a page at a time, filtered by init, optimizer, lr
# and weight decay, sorted by any column (over every row, not the page); missing values stay last.
# Cells are written with textContent: a hostile study's strings stay text.
LEADERBOARD_SCRIPT = """
(function () {
  var table = document.getElementById("leaderboard-table");
  var data = document.getElementById("leaderboard-data");
  if (!table || !data) { return; }
  var rows = JSON.parse(data.textContent);
  var heads = table.tHead.rows[0].cells;
  var body = table.tBodies[0];
  var status = document.getElementById("leaderboard-status");
  var filters = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  var state = {sort: null, ascending: true, page: 0};
  var size = parseInt(table.getAttribute("data-page-size"), 10);
  function kept() {
    var out = rows.filter(function (row) {
      return filters.every(function (f) { return f.value === "" || row[parseInt(f.getAttribute("data-filter"), 10)][0] === f.value; });
    });
    if (state.sort !== null) {
      var col = state.sort, numeric = heads[col].getAttribute("data-type") === "number";
      var key = function (row) {
        var raw = row[col][1];
        if (!numeric) { return String(raw).toLowerCase(); }
        return raw === "" ? null : parseFloat(raw);
      };
      out.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) { return (x === null) - (y === null); }
        var order = x < y ? -1 : (x > y ? 1 : 0);
        return state.ascending ? order : -order;
      });
    }
    return out;
  }
  function render() {
    var shown = kept();
    var pages = Math.max(1, Math.ceil(shown.length / size));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * size, slice = shown.slice(start, start + size);
    var fragment = document.createDocumentFragment();
    slice.forEach(function (row) {
      var tr = document.createElement("tr");
      if (row[0][0] === "1") { tr.className = "best"; }
      row.forEach(function (cell, col) {
        var td = document.createElement("td");
        td.textContent = cell[0];
        if (heads[col].getAttribute("data-type") === "number") { td.className = "num"; td.setAttribute("data-sort", cell[1]); }
        tr.appendChild(td);
      });
      fragment.appendChild(tr);
    });
    body.replaceChildren(fragment);
    status.textContent = shown.length ? ("rows " + (start + 1) + "-" + (start + slice.length) + " of " + shown.length +
      (shown.length < rows.length ? " (filtered from " + rows.length + ")" : "")) : "no row matches the filters";
    document.getElementById("leaderboard-prev").disabled = state.page === 0;
    document.getElementById("leaderboard-next").disabled = state.page >= pages - 1;
  }
  Array.prototype.forEach.call(heads, function (th, col) {
    var button = th.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      state.ascending = th.getAttribute("aria-sort") !== "ascending";
      state.sort = col;
      state.page = 0;
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", state.ascending ? "ascending" : "descending");
      render();
    });
  });
  filters.forEach(function (f) { f.addEventListener("change", function () { state.page = 0; render(); }); });
  document.getElementById("leaderboard-prev").addEventListener("click", function () { state.page -= 1; render(); });
  document.getElementById("leaderboard-next").addEventListener("click", function () { state.page += 1; render(); });
  render();
})();
"""

STYLE = """
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --accent: #0072B2; --good: #006b4f; --warn: #a04000; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink);
       max-width: 1180px; margin: 0 auto; padding: 1.5rem 1.2rem 4rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; margin-top: 2.2rem; }
h3 { font-size: 1.05rem; }
.muted { color: var(--muted); }
nav ol { display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; padding: 0; list-style: none; margin: .8rem 0; }
nav a { color: var(--accent); text-decoration: none; }
.verdict { border-left: 4px solid var(--accent); background: #f3f8fc; padding: .8rem 1rem; font-size: 1.05rem; }
.pick { font-size: 1.2rem; font-weight: 600; }
.note { border-left: 4px solid var(--warn); background: #fdf4ec; padding: .5rem .9rem; }
table { border-collapse: collapse; font-size: .88rem; margin: .6rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .55rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
.lb-controls { display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: center; margin: .5rem 0; }
.lb-controls select, .lb-controls button { font: inherit; }
.scroll { overflow-x: auto; max-height: 34rem; overflow-y: auto; border: 1px solid var(--line); }
.scroll table { margin: 0; }
.scroll thead th { position: sticky; top: 0; background: #fff; }
tr.best td { background: #eef7f2; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .3rem; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .82rem; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
"""


NUM = ' class="num"'
BEST = ' class="best"'


def escape(value: object) -> str:
    """Text for HTML content or a quoted attribute: ``& < > " '`` become entities."""
    return html.escape(str(value), quote=True)


def csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; "
            "base-uri 'none'; form-action 'none'")


def render_html(report: Report, pictures: Sequence[Picture]) -> str:
    """The whole report as one HTML document (a string)."""
    study = report.study
    by_section: dict[str, list[Picture]] = {}
    for picture in pictures:
        by_section.setdefault(picture.section, []).append(picture)
    present = [(key, title) for key, title in SECTIONS
               if (key != "lr-wd" or report.lr_wd) and (key != "ladder" or report.ladder)
               and (key != "transfer" or report.transfer)]
    numbered = {key: f"{i}. {title}" for i, (key, title) in enumerate(present, start=1)}
    body = [
        _header(report, present, numbered),
        _section("recommendation", numbered, _recommendation(report)),
        *([_section("ladder", numbered, _ladder(report))] if report.ladder else []),
        *([_section("transfer", numbered, _transfer(report) + _figures(by_section.get("transfer"), ""))]
          if report.transfer else []),
        _section("leaderboard", numbered, _leaderboard(report)),
        _section("heatmap", numbered, _figures(by_section.get("heatmap"), "No configuration has a result yet.")),
        _section("curves", numbered, _figures(by_section.get("curves"), "No configuration has a result yet.")),
        _section("sensitivity", numbered, _sensitivity_text(report) + _figures(by_section.get("sensitivity"), "No results.")
                 + ("" if report.lr_wd else f'<p class="muted">{escape(NO_LR_WD)}</p>')),
    ]
    if report.lr_wd:
        body.append(_section("lr-wd", numbered, _figures(by_section.get("lr-wd"), "")))
    body += [
        _section("divergence", numbered, _divergence(report) + _figures(by_section.get("divergence"), "")),
        _section("importance", numbered, _importance(report) + _figures(by_section.get("importance"), "")),
        _section("setup", numbered, _setup(report)),
    ]
    import initopt

    footer = (f'<footer>Written by initopt {escape(initopt.__version__)} from {escape(study.db)}. '
              "Self-contained: no network needed to read it.</footer>")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp(LEADERBOARD_SCRIPT))}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',  # no favicon request (a console error on file://)
        f"<title>initopt report: {escape(study.name)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        *body,
        footer,
        f"<script>{LEADERBOARD_SCRIPT}</script>",
        "</body>",
        "</html>",
        "",
    ])


def _header(report: Report, present, numbered) -> str:
    study = report.study
    counts = ", ".join(f"{n} {status}" for status, n in report.timing.counts)
    parts = [
        "<header>",
        f"<h1>Study report: {escape(study.name)}</h1>",
        f"<p>{escape(study.description)}</p>" if study.description else "",
        f'<p class="muted">{len(study.configs)} configurations ({escape(counts)}); ranked by {escape(report.metric_title)}; '
        f"created {escape(study.created)}, updated {escape(study.updated)}.</p>",
        '<nav aria-label="sections"><ol>' + "".join(f'<li><a href="#{key}">{escape(numbered[key])}</a></li>' for key, _ in present) + "</ol></nav>",
        *(f'<p class="note">{escape(note)}</p>' for note in report.notes),
        "</header>",
    ]
    return "\n".join(p for p in parts if p)


def _section(key: str, numbered: dict[str, str], content: str) -> str:
    return f'<section id="{key}">\n<h2>{escape(numbered[key])}</h2>\n{content}\n</section>'


def _figures(pictures: Sequence[Picture] | None, empty: str) -> str:
    if not pictures:
        return f'<p class="muted">{escape(empty)}</p>' if empty else ""
    out = []
    for p in pictures:
        data = base64.b64encode(p.png).decode("ascii")
        out.append(f'<figure id="fig-{escape(p.name)}"><img src="data:image/png;base64,{data}" alt="{escape(p.alt)}">'
                   f"<figcaption>{escape(p.caption)}</figcaption></figure>")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------ sections


def _candidate_row(label: str, c: Candidate) -> str:
    return ("<tr>" + f"<th scope=\"row\">{escape(label)}</th><td>{escape(c.init)}</td><td>{escape(c.optimizer)}</td>"
            f'<td class="num">{c.lr:g}</td><td class="num">{c.weight_decay:g}</td>'
            f'<td class="num">{escape(fmt.pm(c.mean, c.std))}</td><td class="num">{escape(fmt.interval(c.ci_low, c.ci_high, c.mean))}</td>'
            f'<td class="num">{len(c.values)}/{len(c.seeds)}</td><td class="num">{c.n_bad}</td></tr>')


def _recommendation(report: Report) -> str:
    rec = report.recommendation
    metric = escape(report.study.metric)
    if rec.best is None:
        return f'<p class="verdict">{escape(rec.verdict)}</p>'
    best = rec.best
    out = [
        f'<p class="pick">Use {escape(best.init)} with {escape(best.optimizer)}, lr = {best.lr:g}, '
        f"weight_decay = {best.weight_decay:g}</p>",
        f'<p class="verdict">{escape(rec.verdict)}</p>',
        "<table><thead><tr><th></th><th>init</th><th>optimizer</th><th class=\"num\">lr</th><th class=\"num\">weight decay</th>"
        f'<th class="num">{metric} mean ± std</th><th class="num">95% CI</th><th class="num">seeds finished</th>'
        '<th class="num">diverged/failed</th></tr></thead><tbody>',
        _candidate_row("best", best),
    ]
    if rec.runner_up is not None:
        out.append(_candidate_row("runner-up", rec.runner_up.other))
    out.append("</tbody></table>")
    if rec.runner_up is not None and math.isfinite(rec.runner_up.p_value):  # else the verdict says why no test
        r = rec.runner_up
        df = f"{r.df:.1f}" if math.isfinite(r.df) else "n/a"
        out.append(f"<p>Welch's two-sided t-test over seeds, best vs runner-up: difference {escape(fmt.delta(r.difference, rec.best.mean))}, "
                   f"t = {escape(fmt.num(r.t, 3))}, df = {df}, p = {escape(fmt.pvalue(r.p_value))} "
                   f"({'told apart' if r.told_apart else 'not told apart'} at the 5% level).</p>")
    if rec.ties:
        items = "".join(f"<li>{escape(c.label)}: {escape(fmt.pm(c.mean, c.std))}</li>" for c in rec.ties)
        out.append(f"<details><summary>{len(rec.ties)} other configurations that Welch's test cannot tell from the best</summary>"
                   f"<ul>{items}</ul></details>")
    out.append(f'<p class="muted">The best is picked from {rec.n_candidates} candidates on the same runs, so its mean '
               "is optimistic; the tests compare pairs and are not corrected for the many comparisons. Intervals "
               "are Student-t intervals over seeds.</p>")
    if len(rec.per_optimizer) > 1:
        items = "".join(f"<li>best {escape(c.optimizer)}: lr {c.lr:g}, weight decay {c.weight_decay:g}, {escape(c.init)}: "
                        f"{escape(fmt.pm(c.mean, c.std))}</li>" for c in rec.per_optimizer)
        out.append(f"<p>The best setting of each optimizer:</p><ul>{items}</ul>")
    from initopt.report.snippet import decay_rule_text

    out.append(f"<p>Weight decay: {escape(decay_rule_text(report.study.no_decay))}</p>")
    out.append(_use_it(report))
    return "\n".join(out)


def _use_it(report: Report) -> str:
    """The winner as code to paste, for PyTorch and Keras 3 (``initopt study best`` prints the same)."""
    from initopt.report.data import config_of
    from initopt.report.snippet import snippet

    row = config_of(report.study, report.recommendation.best)
    blocks = "".join(f"<h3>{title}</h3><pre><code>{escape(snippet(row, fmt_, report.study.no_decay))}</code></pre>"
                     for title, fmt_ in (("PyTorch", "python"), ("Keras 3", "keras")))
    return (f'<details open><summary>Use it: the winner as code to paste (also <code>initopt study best --format '
            f"python|keras|toml</code>)</summary>{blocks}</details>")


LEADERBOARD_COLUMNS = (
    ("rank", "number"), ("init", "text"), ("optimizer", "text"), ("lr", "number"), ("weight decay", "number"),
    ("mean ± std", "number"), ("95% CI", "number"), ("test mean ± std", "number"), ("seeds", "number"),
    ("diverged", "number"), ("failed", "number"),
)  # fmt: skip


def _sort_value(value: float) -> str:
    return repr(float(value)) if isinstance(value, (int, float)) and math.isfinite(value) else ""


LEADERBOARD_PAGE = 50  # rows per page of the leaderboard
FILTERED_COLUMNS = (1, 2, 3, 4)  # init, optimizer, lr, weight decay: a list of their values above the table


def _leaderboard_cells(r: dict) -> list[tuple[str, str]]:
    """One row's cells as (text, sort key), in ``LEADERBOARD_COLUMNS`` order."""
    return [
        (str(r["rank"]), str(r["rank"])),
        (r["init"], r["init"]),
        (r["optimizer"], r["optimizer"]),
        (f"{r['lr']:g}", _sort_value(r["lr"])),
        (f"{r['weight_decay']:g}", _sort_value(r["weight_decay"])),
        (fmt.pm(r["mean"], r["std"]), _sort_value(r["mean"])),
        (fmt.interval(r["ci_low"], r["ci_high"], r["mean"]), _sort_value(r["ci_low"])),
        (fmt.pm(r["test_mean"], r["test_std"]), _sort_value(r["test_mean"])),
        (f"{r['seeds_finished']}/{r['seeds']}", str(r["seeds_finished"])),
        (str(r["diverged"]), str(r["diverged"])),
        (str(r["failed"]), str(r["failed"])),
    ]


def _json_in_script(value) -> str:
    """JSON safe inside a ``<script>`` block: no ``<`` (so no ``</script>``), ``&`` or line separators."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace(
        "\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _leaderboard(report: Report) -> str:
    """The first page as HTML (readable without scripts), every row as JSON for the script that pages,
    filters and sorts them: a 10,000-configuration study's table stays one page of rows in the DOM."""
    records = leaderboard_records(report)
    if not records:
        return '<p class="muted">No configurations.</p>'
    head = "".join(
        f'<th scope="col" data-type="{kind}"{NUM if kind == "number" else ""}><button type="button">{escape(name)}</button></th>'
        for name, kind in LEADERBOARD_COLUMNS
    )
    cells = [_leaderboard_cells(r) for r in records]
    rows = []
    for row in cells[:LEADERBOARD_PAGE]:
        tds = "".join(
            f'<td class="num" data-sort="{escape(key)}">{escape(text)}</td>' if kind == "number" else f"<td>{escape(text)}</td>"
            for (text, key), (_, kind) in zip(row, LEADERBOARD_COLUMNS)
        )
        rows.append(f"<tr{BEST if row[0][0] == '1' else ''}>{tds}</tr>")
    selects = []
    for col in FILTERED_COLUMNS:
        name, kind = LEADERBOARD_COLUMNS[col]
        values = sorted({(row[col][1], row[col][0]) for row in cells},
                        key=lambda kv: (float(kv[0]) if kind == "number" and kv[0] else kv[0]))
        options = "".join(f'<option value="{escape(text)}">{escape(text)}</option>' for _, text in dict.fromkeys(values))
        selects.append(f'<label>{escape(name)} <select data-filter="{col}"><option value="">all</option>{options}</select></label>')
    csv_data = base64.b64encode(to_csv(records).encode("utf-8")).decode("ascii")
    filename = _safe_filename(report.study.name) + "-leaderboard.csv"
    shown = f"rows 1-{min(LEADERBOARD_PAGE, len(records))} of {len(records)}"
    return "\n".join([
        f"<p>Every grid point over its seeds, ranked by {escape(report.metric_title)}: mean ± standard deviation and 95% "
        "confidence interval over the seeds that finished; the test column is the test split's metric of the same "
        "runs and epochs, reported and never ranked on. A point that lost a seed to divergence ranks after all "
        f"that lost none. {LEADERBOARD_PAGE} rows a page; choose values above the table to filter, press a column "
        "header to sort every row. "
        f'<a download="{escape(filename)}" href="data:text/csv;charset=utf-8;base64,{csv_data}">Download as CSV</a>.</p>',
        f'<div class="lb-controls">{"".join(selects)}'
        '<button type="button" id="leaderboard-prev" disabled>previous</button>'
        f'<span id="leaderboard-status" aria-live="polite">{shown}</span>'
        f'<button type="button" id="leaderboard-next"{" disabled" if len(records) <= LEADERBOARD_PAGE else ""}>next</button></div>',
        f'<div class="scroll"><table class="sortable" id="leaderboard-table" data-page-size="{LEADERBOARD_PAGE}">',
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>", *rows, "</tbody></table></div>",
        f'<script type="application/json" id="leaderboard-data">{_json_in_script(cells)}</script>',
    ])


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "study"


def _sensitivity_text(report: Report) -> str:
    return ("<p>How much the final metric depends on getting the learning rate right. A flat line near the top "
            "is a combination that forgives a badly chosen lr; a peak is one that must be tuned.</p>")


NO_LR_WD = ("No learning rate x weight decay heatmap: no optimizer was tried on a grid of at least 2 learning "
            "rates x 2 weight decays.")
MAX_LISTED_RUNS = 200  # diverged or failed runs listed in the page; the export has every one


def _divergence(report: Report) -> str:
    runs = report.diverged_runs
    if not runs:
        return "<p>No configuration diverged or failed: every run kept a finite loss to the end.</p>"
    head = "<tr><th>init</th><th>optimizer</th><th class=\"num\">lr</th><th class=\"num\">weight decay</th><th class=\"num\">seed</th><th>status</th><th class=\"num\">epoch</th><th>error</th></tr>"
    rows = "".join(
        f"<tr><td>{escape(r.init)}</td><td>{escape(r.optimizer)}</td><td class=\"num\">{r.lr:g}</td><td class=\"num\">{r.weight_decay:g}</td>"
        f"<td class=\"num\">{r.seed}</td><td>{escape(r.status)}</td><td class=\"num\">{'' if r.epoch is None else r.epoch}</td>"
        f"<td>{escape(r.error or '')}</td></tr>"
        for r in runs[:MAX_LISTED_RUNS]
    )
    diverged = sum(r.status == "diverged" for r in runs)
    listed = (f"The {len(runs)} runs" if len(runs) <= MAX_LISTED_RUNS else
              f"The first {MAX_LISTED_RUNS} of {len(runs)} runs (all of them: initopt study export)")
    return (f"<p>{diverged} runs diverged (loss NaN or infinite; the run was stopped there) and "
            f"{len(runs) - diverged} failed with an error.</p>"
            f'<details><summary>{listed}</summary><div class="scroll"><table><thead>{head}</thead><tbody>{rows}</tbody></table></div></details>')


def _transfer(report: Report) -> str:
    """Each width's best learning rate per parametrization, and how far it moves."""
    widths = sorted({line.width for panel in report.transfer for line in panel.lines})
    head = "<tr><th>parametrization</th>" + "".join(f'<th class="num">width {w}</th>' for w in widths) + \
           '<th class="num">moves</th></tr>'
    rows = []
    for panel in report.transfer:
        best = {line.width: line for line in panel.lines}
        cells = "".join(f'<td class="num">{best[w].best_lr:g} ({best[w].best:.4g})</td>' if w in best else "<td></td>"
                        for w in widths)
        rows.append(f"<tr><td>{escape(panel.parametrization)}</td>{cells}<td class=\"num\">{panel.moves:.3g}x</td></tr>")
    sentences = " ".join(escape(panel.sentence) + "." for panel in report.transfer)
    return (f"<p>The best learning rate at each width (its {escape(report.study.selection_label)} in brackets). "
            f"{sentences}</p><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>")


def _ladder(report: Report) -> str:
    """The rungs as a table: at each, the configurations (settings) that got there and went on."""
    ladder = report.ladder
    rows = "".join(
        f"<tr><td>{r.epoch}</td><td>{r.reached}</td><td>{r.settings}</td><td>{r.went_on if i < len(ladder.rungs) - 1 else '-'}</td>"
        f"<td>{r.reached - r.went_on if i < len(ladder.rungs) - 1 else '-'}</td></tr>"
        for i, r in enumerate(ladder.rungs))
    return (f"<p>{escape(ladder.note)}</p>"
            "<table><thead><tr><th>after epoch</th><th>configurations</th><th>settings</th><th>went on</th>"
            f"<th>pruned</th></tr></thead><tbody>{rows}</tbody></table>")


def _importance(report: Report) -> str:
    result = report.importance
    if not result.shares:
        return f"<p>Not computed: {escape(result.skipped or 'no data')}.</p>"
    rows = "".join(f'<tr><td>{escape(name)}</td><td class="num">{share:.1%}</td></tr>' for name, share in result.shares)
    return (f"<p>Share of the variance of the final {escape(report.study.metric)} explained by each parameter on its "
            f"own, computed by {escape(result.method)}, over {escape(report.importance_note)}</p>"
            f'<table><thead><tr><th>parameter</th><th class="num">share</th></tr></thead><tbody>{rows}</tbody></table>')


def _kv_table(items: Iterable[tuple[str, object]]) -> str:
    rows = "".join(f"<tr><th scope=\"row\">{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in items)
    return f"<table><tbody>{rows}</tbody></table>"


def _setup(report: Report) -> str:
    study, timing = report.study, report.timing
    out = ["<h3>Timing</h3>", _kv_table([
        ("study wall time (first run start to last run end)", fmt.seconds(timing.study_seconds)),
        ("sum of the configurations' recorded times", fmt.seconds(timing.total_config_seconds)),
        ("configurations", ", ".join(f"{n} {s}" for s, n in timing.counts)),
    ])]
    if timing.runs:
        rows = "".join(
            f"<tr><td class=\"num\">{r.id}</td><td>{escape(r.engine)}</td><td class=\"num\">{r.n_configs}</td>"
            f"<td>{escape(r.started)}</td><td>{escape(r.finished or 'not finished')}</td></tr>"
            for r in timing.runs
        )
        out.append("<table><thead><tr><th class=\"num\">run</th><th>engine</th><th class=\"num\">configurations</th>"
                   f"<th>started</th><th>finished</th></tr></thead><tbody>{rows}</tbody></table>")
    out.append("<h3>Environment</h3>")
    out.append(_kv_table(sorted(study.environment.items())) if study.environment else "<p>Not recorded.</p>")
    out.append("<h3>Spec</h3>")
    out.append(f"<pre>{escape(fmt.compact_json(study.spec))}</pre>")
    out.append(f'<p class="muted">Database: {escape(study.db)}</p>')
    return "\n".join(out)
