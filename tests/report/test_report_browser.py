"""The HTML report in a real headless Chromium (Debian's ``chromium``), driven by Playwright.

Checks what a person would see: the page loads with no console error, no request leaves the file,
every section and picture is there and drawn, the leaderboard sorts, a hostile study name stays text.
Saves a screenshot (to ``$INITOPT_SCREENSHOT_DIR`` when set, for CI artifacts; else the test's tmp dir).
Never downloads a browser: it launches ``/usr/bin/chromium`` or skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_report_support import HOSTILE

from initopt.report.html import SECTIONS

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (CI runs as root); nothing that would reach for the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio"]
TIMEOUT_MS = 30_000

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the browser test",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright for Python: pip install playwright")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_api.sync_playwright() as playwright:
        # Playwright's launch gives every run a fresh temporary profile (its --user-data-dir).
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        yield browser
        browser.close()


def open_page(browser, path: Path):
    """Load ``path``; return the page and the list of problems seen (console errors, page errors,
    requests to anything but the file itself and data: URIs, dialogs)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    url = path.resolve().as_uri()
    page.on("request", lambda r: problems.append(f"request: {r.url[:80]}") if r.url != url and not r.url.startswith("data:") else None)
    page.goto(url, wait_until="load")
    return page, problems


def test_report_renders_in_chromium(browser, tiny_html, tiny_pictures, tmp_path):
    page, problems = open_page(browser, tiny_html)
    headings = page.locator("h2").all_inner_texts()
    expected = [title for key, title in SECTIONS if key not in ("lr-wd", "ladder", "transfer")]  # no halving, no width axis
    assert [h.split(". ", 1)[1] for h in headings] == expected
    for key, _ in SECTIONS:
        if key not in ("lr-wd", "ladder", "transfer"):
            assert page.locator(f"section#{key}").is_visible()
    images = page.locator("figure img")
    assert images.count() == len(tiny_pictures)
    for i in range(images.count()):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 100"), i
    assert page.locator("#leaderboard-table tbody tr").count() == 8

    shot = Path(os.environ.get("INITOPT_SCREENSHOT_DIR") or tmp_path) / "report-tiny.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG")
    page.close()
    assert problems == []


def test_leaderboard_sorts_by_a_column(browser, tiny_html):
    page, problems = open_page(browser, tiny_html)
    column = 5  # "mean ± std"
    header = page.locator("#leaderboard-table thead th").nth(column)
    cells = page.locator(f"#leaderboard-table tbody tr td:nth-child({column + 1})")

    def values():
        return [float(v) for v in cells.evaluate_all("cs => cs.map(c => c.getAttribute('data-sort'))") if v]

    assert values() != sorted(values())  # ranked best first, i.e. descending accuracy
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert values() == sorted(values())
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert values() == sorted(values(), reverse=True)
    page.close()
    assert problems == []


def test_hostile_study_name_is_shown_not_run(browser, hostile_html):
    page, problems = open_page(browser, hostile_html)
    assert page.locator("h1").inner_text() == f"Study report: {HOSTILE}"
    assert page.title() == f"initopt report: {HOSTILE}"
    assert page.locator("script:not([type=\"application/json\"])").count() == 1  # and the leaderboard's data, never run
    page.close()
    assert problems == []  # no alert() dialog, no error, no request for "x" (the <img src=x> in the description)



def test_a_10000_configuration_report_opens_pages_filters_and_sorts(browser, tmp_path):
    """The leaderboard of 2,000 grid points (10,000 configurations) keeps one page of rows in the page,
    filters by init and by lr, and sorts every row, not the page. The load time is printed (never asserted:
    benchmarks/report_scale.py records it)."""
    import time

    from test_report_support import big_study_runs, write_study

    from initopt.report import write_report

    runs = big_study_runs()
    assert len(runs) == 10_000
    html = write_report(write_study(tmp_path / "big.db", "big", runs), out=tmp_path / "big.html")
    started = time.perf_counter()
    page, problems = open_page(browser, html)
    print(f"10,000-configuration report ({html.stat().st_size / 1e6:.1f} MB) loaded in Chromium in "
          f"{time.perf_counter() - started:.2f} s")
    rows = page.locator("#leaderboard-table tbody tr")
    status = page.locator("#leaderboard-status")
    assert rows.count() == 50 and status.inner_text() == "rows 1-50 of 2000"
    page.locator("#leaderboard-next").click()
    assert status.inner_text() == "rows 51-100 of 2000" and rows.nth(0).locator("td").nth(0).inner_text() == "51"

    page.locator('select[data-filter="1"]').select_option("init3")  # init
    assert status.inner_text() == "rows 1-50 of 400 (filtered from 2000)"
    assert set(page.locator("#leaderboard-table tbody tr td:nth-child(2)").all_inner_texts()) == {"init3"}
    page.locator('select[data-filter="3"]').select_option("0.0001")  # and lr
    assert status.inner_text() == "rows 1-20 of 20 (filtered from 2000)"

    page.locator('select[data-filter="1"]').select_option("")
    page.locator('select[data-filter="3"]').select_option("")
    header = page.locator("#leaderboard-table thead th").nth(3)  # lr, over every row
    header.locator("button").click()
    lrs = [float(v) for v in page.locator("#leaderboard-table tbody tr td:nth-child(4)").evaluate_all(
        "cs => cs.map(c => c.getAttribute('data-sort'))")]
    assert lrs == [1e-4] * 50 and status.inner_text() == "rows 1-50 of 2000"
    header.locator("button").click()
    assert float(rows.nth(0).locator("td").nth(3).get_attribute("data-sort")) == pytest.approx(0.1)
    page.close()
    assert problems == []
