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
    expected = [title for key, title in SECTIONS if key != "lr-wd"]
    assert [h.split(". ", 1)[1] for h in headings] == expected
    for key, _ in SECTIONS:
        if key != "lr-wd":
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
    assert page.locator("script").count() == 1
    page.close()
    assert problems == []  # no alert() dialog, no error, no request for "x" (the <img src=x> in the description)

