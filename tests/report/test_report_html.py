"""The HTML report: one self-contained file, every section and picture present, every string escaped."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from html.parser import HTMLParser

import pytest
from test_report_support import HOSTILE

from initopt.report import write_report
from initopt.report.html import SECTIONS, LEADERBOARD_SCRIPT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPECTED_PICTURES = {"heatmap", "curves-top", "curves-inits", "lr-sensitivity", "divergence", "importance"}


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self.types: list[str | None] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")
            self.types.append(dict(attrs).get("type"))

    def code(self) -> list[str]:
        """The scripts a browser runs (not the JSON data blocks)."""
        return [s for s, kind in zip(self.scripts, self.types) if kind != "application/json"]

    def data(self) -> list:
        return [json.loads(s) for s, kind in zip(self.scripts, self.types) if kind == "application/json"]

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def parse(path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_section_and_picture_is_there(tiny_html, tiny_pictures, tiny_report):
    page = parse(tiny_html)
    expected_pictures = EXPECTED_PICTURES - (set() if tiny_report.diverged_runs else {"divergence"})  # no empty map
    ids = {attrs.get("id") for _, attrs in page.tags}
    # the tiny study has one weight decay per optimizer, and is a grid (no halving ladder) without widths
    expected = {key for key, _ in SECTIONS if key not in ("lr-wd", "ladder", "transfer")}
    assert expected <= ids and not {"lr-wd", "ladder", "transfer"} & ids
    assert {p.name for p in tiny_pictures} == expected_pictures
    assert {f"fig-{name}" for name in expected_pictures} <= ids
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == len(expected_pictures)
    for attrs in images:
        assert attrs["alt"]
        head, data = attrs["src"].split(",", 1)
        assert head == "data:image/png;base64"
        assert base64.b64decode(data).startswith(PNG_SIGNATURE)


def test_nothing_is_fetched_from_anywhere(tiny_html):
    page = parse(tiny_html)
    for tag, attrs in page.tags:
        for name in ("src", "href", "srcset", "poster", "data", "action"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), (tag, name, value[:60])
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
    assert not re.search(r"url\(\s*['\"]?(?!data:)", tiny_html.read_text())  # no CSS fetches either


def test_the_only_script_is_the_leaderboards_and_the_policy_allows_only_it(tiny_html):
    page = parse(tiny_html)
    assert page.code() == [LEADERBOARD_SCRIPT]
    policy = next(attrs["content"] for tag, attrs in page.tags if attrs.get("http-equiv") == "Content-Security-Policy")
    digest = base64.b64encode(hashlib.sha256(LEADERBOARD_SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy


def test_leaderboard_has_every_candidate_and_its_csv(tiny_html, tiny_report):
    page = parse(tiny_html)
    rows = [attrs for tag, attrs in page.tags if tag == "tr"]
    assert len(rows) >= len(tiny_report.candidates)
    link = next(attrs for tag, attrs in page.tags if tag == "a" and "download" in attrs)
    assert link["download"] == "tiny-leaderboard.csv"
    records = list(csv.DictReader(io.StringIO(base64.b64decode(link["href"].split(",", 1)[1]).decode())))
    assert len(records) == len(tiny_report.candidates)
    assert records[0]["init"] == tiny_report.recommendation.best.init
    (rows_data,) = page.data()
    assert len(rows_data) == len(tiny_report.candidates) and rows_data[0][1][0] == tiny_report.recommendation.best.init
    assert float(records[0]["mean"]) == pytest.approx(tiny_report.recommendation.best.mean)


def test_hostile_strings_show_as_text(hostile_html):
    source = hostile_html.read_text(encoding="utf-8")
    page = parse(hostile_html)
    assert page.code() == [LEADERBOARD_SCRIPT]  # the study name did not become a script
    assert any(cell[0] == "<b>bold</b>" for row in page.data()[0] for cell in row)  # data in the leaderboard's rows
    for raw in (HOSTILE, "<b>bold</b>", "<i>x</i>", "<img src=x", "<svg onload"):
        assert raw not in source
    text = "".join(page.text)
    for shown in (f"Study report: {HOSTILE}", "<b>bold</b>", "note=<i>x</i>", "<svg onload=alert(3)>", '& "quotes"'):
        assert shown in text
    assert not any(tag in ("b", "i", "svg") or any(a.startswith("on") for a in attrs) for tag, attrs in page.tags)
    title = source.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title == "initopt report: &lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"format": "pdf"}, "--format must be one of html, markdown, got 'pdf'"),
        ({"study": "nope"}, "--study: no study 'nope' in"),
    ],
)
def test_bad_input_names_the_field(tiny_db, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        write_report(tiny_db, out=tmp_path / "r.html", **kwargs)


def test_bad_paths_name_the_file(tiny_db, tmp_path):
    with pytest.raises(ValueError, match="--db .*missing.db: no such database file"):
        write_report(tmp_path / "missing.db", out=tmp_path / "r.html")
    with pytest.raises(ValueError, match="--out .*: is a folder"):
        write_report(tiny_db, out=tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        write_report(tiny_db, out=tmp_path / "file" / "r.html")


def test_pictures_drawn_in_parallel_processes_are_the_ones_drawn_here(tiny_report, monkeypatch):
    from initopt.report import plots

    parallel = plots._draw(tiny_report)
    monkeypatch.setattr(plots, "_drawing_processes", lambda n: 1)
    assert [p.png for p in plots._draw(tiny_report)] == [p.png for p in parallel]
