"""Output that reads anywhere, through real subprocesses (``COLUMNS=80``, stdout and stderr are pipes):
tables fit 80 columns without cutting a hyperparameter, progress is plain lines, ``--version``."""

from __future__ import annotations

import io
import re

import pytest

from initopt import __version__
from initopt._terminal import Progress
from initopt.report.fmt import hyper

WIDTH = 80
ESCAPES = re.compile(r"\x1b\[|\r")  # colour, cursor movement, a bar redrawn in place
# Two weight decays per optimizer, one of them small enough for scientific notation, and the longest
# optimizer label there is (decay=independent): the columns that used to be cut to `weight_…`.
SPEC = """
name = "wd-grid"
[workload]
dataset = "breast-cancer"
hidden = [8]
[train]
epochs = 2
[grid]
init = ["he_normal", "xavier_normal"]
seeds = [0]
[[grid.optimizer]]
name = "adamw"
lr = [1e-3, 3e-5]
weight_decay = [3.2e-5, 0.1]
[[grid.optimizer]]
name = "adamw"
decay = "independent"
lr = [1e-3]
weight_decay = [1e-4, 0.03]
"""


def _readable(text: str) -> None:
    """Every line fits; nothing is cut with an ellipsis; no escape codes or carriage returns. A line
    naming a file may be longer: paths stay whole, to be copied."""
    assert not ESCAPES.search(text), repr(text)
    assert "…" not in text, text
    for line in text.splitlines():
        if not re.match(r"(Report|Results)\b", line):
            assert len(line) <= WIDTH, f"{len(line)} > {WIDTH}: {line!r}"


def test_a_weight_decay_grid_reads_at_80_columns(cli, tmp_path):
    (tmp_path / "wd.toml").write_text(SPEC)
    run = cli("study", "run", "wd.toml", "--db", "s.db")
    assert run.returncode == 0, run.stderr
    show = cli("study", "show", "wd-grid", "--db", "s.db")
    listing = cli("study", "list", "--db", "s.db")
    report = cli("study", "report", "--db", "s.db", "--out", "r.html")
    for result in (run, show, listing, report):
        assert result.returncode == 0, result.stderr
        _readable(result.stdout)
        _readable(result.stderr)
    for table in (run.stdout, show.stdout):
        assert re.search(r"^ *1 +\S+ +adamw", table, re.M), table  # a row, not a folded scrap of one
        for wd in ("3.2e-05", "0.1", "1e-04", "0.03"):  # every weight decay, whole, in its own column
            assert re.search(rf"\s{re.escape(wd)}\s", table), (wd, table)
        assert "decay=independent" in table  # the longest variant, whole
    assert re.search(r"^wd-grid +12 +12 ", listing.stdout, re.M), listing.stdout
    assert "wd=3.2e-05" in report.stdout or "wd=1e-04" in report.stdout or "wd=0.1" in report.stdout


def test_progress_is_plain_lines_on_a_pipe(cli, tmp_path):
    """A CI log gets ``[study] done/total ...`` lines, not a bar redrawn with carriage returns."""
    (tmp_path / "wd.toml").write_text(SPEC)
    run = cli("study", "run", "wd.toml", "--db", "s.db")
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert lines and all(line.startswith("[study] ") for line in lines), run.stderr
    assert re.match(r"\[study\] 0/[\d,]+ steps, .*\b0/12 configurations, 0\.\d s$", lines[0]), lines
    assert re.search(r", 12/12 configurations, [\d.]+ s$", lines[-1]), lines
    _readable(run.stderr)

    plot = cli("doctor", "--depth", "3", "--width", "16", "--plot", "depth.png")
    assert plot.returncode == 0, plot.stderr
    assert plot.stderr.startswith("[doctor] 0/5 schemes") and "[doctor] 5/5 schemes" in plot.stderr, plot.stderr
    _readable(plot.stdout + plot.stderr)


def test_plain_progress_keeps_a_steady_pace():
    """On a stream that is not a terminal: a line at the start, at most one per ``every`` seconds,
    and one at the end (not repeated when nothing moved since the last)."""
    stream = io.StringIO()
    with Progress("job", "items", stream=stream, every=3600) as bar:
        bar.start(100, detail="warming up")
        for _ in range(100):
            bar.update(advance=1)
    assert stream.getvalue().splitlines()[0] == "[job] 0/100 items, warming up, 0.0 s"
    assert re.fullmatch(r"\[job\] 100/100 items, warming up, \d+\.\d s", stream.getvalue().splitlines()[1])
    assert len(stream.getvalue().splitlines()) == 2

    stream = io.StringIO()
    with Progress("job", "items", stream=stream, every=0) as bar:
        bar.start(2)
        bar.update(advance=1)
        bar.update(advance=1)
    assert [line.split(",")[0] for line in stream.getvalue().splitlines()] == ["[job] 0/2 items", "[job] 1/2 items", "[job] 2/2 items"]


@pytest.mark.parametrize(("value", "text"), [
    (0.0, "0"), (1e-4, "1e-04"), (3.2e-5, "3.2e-05"), (3e-4, "3e-04"), (1e-3, "0.001"), (0.003, "0.003"),
    (0.01, "0.01"), (0.3, "0.3"), (1.0, "1"), (10.0, "10"), (0.999, "0.999"), (1e-8, "1e-08"), (2e4, "2e+04"),
])  # fmt: skip
def test_hyperparameters_are_written_compactly(value, text):
    assert hyper(value) == text


def test_version(cli):
    result = cli("--version")
    assert result.returncode == 0 and result.stdout == f"initopt {__version__}\n" and result.stderr == ""
