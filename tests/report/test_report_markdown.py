"""The Markdown variant: text, PNGs in a folder beside it, the full leaderboard as CSV."""

from __future__ import annotations

import csv
import re
from urllib.parse import unquote

import pytest
from test_report_support import HOSTILE

from initopt.report import write_report
from initopt.report.markdown import escape, write_markdown

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_md(tiny_report, tiny_pictures, tmp_path_factory):
    return write_markdown(tiny_report, tiny_pictures, tmp_path_factory.mktemp("md") / "tiny report.md")


def test_markdown_links_resolve_to_pictures_and_csv_beside_it(tiny_md, tiny_report, tiny_pictures):
    text = tiny_md.read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", text)
    assert len(images) == len(tiny_pictures)
    for link in images:
        assert (tiny_md.parent / unquote(link)).read_bytes().startswith(PNG_SIGNATURE)
    csv_path = tiny_md.parent / "tiny report_leaderboard.csv"
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert len(rows) == len(tiny_report.candidates) and rows[0]["rank"] == "1"
    for n, title in enumerate(["Recommendation", "Leaderboard", "Init x optimizer", "Learning curves",
                               "Learning-rate sensitivity", "Divergence", "Importance", "Spec, environment and timing"], 1):
        assert f"## {n}. {title}" in text
    assert "fANOVA" in text and "Welch" in text


def test_markdown_escapes_hostile_strings(hostile_db, tmp_path):
    out = write_report(hostile_db, out=tmp_path / "r.md", format="markdown")
    text = out.read_text(encoding="utf-8")
    prose, spec = text.split("```json", 1)  # a code block shows its text literally: the spec may stay raw there
    assert spec.count("```") == 1 and spec.rstrip().endswith("```")
    prose = re.sub(r"```python\n.*?\n```", "", prose, flags=re.S)  # so may the code to paste
    for raw in (HOSTILE, "<b>bold</b>", "<i>x</i>", "<img src=x", "<svg"):
        assert raw not in prose
    assert f"# Study report: {escape(HOSTILE)}" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text


def test_escape_keeps_table_cells_and_emphasis_literal():
    assert escape("a|b") == r"a\|b"
    assert escape("he_normal") == r"he\_normal"
    assert escape("<x>") == "&lt;x&gt;"
    assert escape("line\nbreak") == "line break"
    assert escape("# not a heading") == r"\# not a heading"
    assert escape("1. not a list") == r"1\. not a list"
    assert escape("a-b (c) 1.5") == "a-b (c) 1.5"  # harmless inside a line: left readable


def test_rewriting_drops_pictures_the_new_report_does_not_have(tiny_report, tiny_pictures, tmp_path):
    out = tmp_path / "r.md"
    (tmp_path / "r_files").mkdir()
    (tmp_path / "r_files" / "lr-wd-9.png").write_bytes(b"old")
    write_markdown(tiny_report, tiny_pictures, out)
    assert sorted(p.stem for p in (tmp_path / "r_files").iterdir()) == sorted(p.name for p in tiny_pictures)
