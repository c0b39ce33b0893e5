"""Regenerate what the docs show of the program's output from real runs, so it cannot drift:

- ``train``: the README's sample ``initopt train`` output (between ``<!-- regenerate: train -->`` markers);
- ``files``: docs/report.md's commands and the file names they write (between ``<!-- regenerate: files -->``),
  read off a real ``initopt study run`` and ``initopt study report --format markdown`` in a scratch folder;
- ``screenshot``: docs/report-default.png, the default study's report as headless Chromium shows it
  (needs Playwright and /usr/bin/chromium), and docs/gallery/adamw_vs_adam-heatmaps.png, the lr x weight
  decay heatmaps of ``examples/adamw_vs_adam.toml`` with the cells within seed noise of the best outlined.

Every command runs in a scratch folder with this checkout's ``initopt`` (``python -m initopt``), on this
machine: the numbers and timings are this machine's, on the day it is run (say so where they are quoted).

Usage: python docs/regenerate.py [train] [files] [screenshot]   (all three without arguments)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("train", "files", "screenshot")


def initopt(*args: str, cwd: Path) -> str:
    """Run ``initopt ARGS`` in ``cwd``; its stdout (stderr holds progress)."""
    done = subprocess.run([sys.executable, "-m", "initopt", *args], cwd=cwd, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"initopt {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def splice(path: Path, marker: str, body: str) -> None:
    """Replace what lies between ``<!-- regenerate: MARKER -->`` and ``<!-- /regenerate: MARKER -->``."""
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- regenerate: {marker} -->\n).*?(<!-- /regenerate: {marker} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: no <!-- regenerate: {marker} --> ... <!-- /regenerate: {marker} --> block")
    path.write_text(pattern.sub(lambda m: m.group(1) + body + m.group(2), text), encoding="utf-8")
    print(f"{path.relative_to(ROOT)}: {marker} regenerated")


def train(scratch: Path) -> None:
    lines = initopt("train", cwd=scratch).splitlines()
    header = next(line for line in lines if " train / " in line)
    epochs = [line for line in lines if line.startswith("Epoch ")]
    tail = [line for line in lines if line.startswith(("Validation:", "Test:"))]
    splice(ROOT / "README.md", "train", "```\n" + "\n".join([header, epochs[0], "...", epochs[-1], *tail]) + "\n```\n")


def files(scratch: Path) -> None:
    run = initopt("study", "run", cwd=scratch)
    report = next(line for line in run.splitlines() if line.startswith("Report: "))
    html = Path(report.removeprefix("Report: ")).name
    initopt("study", "report", "--format", "markdown", "--out", "docs/study.md", cwd=scratch)
    written = sorted(p.relative_to(scratch / "docs").as_posix() for p in (scratch / "docs").rglob("*") if p.is_file())
    pictures = sorted({Path(p).parent.as_posix() for p in written if p.endswith(".png")})
    others = [p for p in written if not p.endswith(".png") and p != "study.md"]
    body = "\n".join([
        "```bash",
        f"initopt study run                                   # the default study; ends by writing {html}",
        "initopt study report                                # report.html from initopt.db (its only study)",
        "initopt study report --db runs.db --study adamw-vs-adam --out adamw.html",
        f"initopt study report --format markdown --out docs/study.md   # study.md + {', '.join(f'{d}/*.png' for d in pictures)}"
        + "".join(f" + {o}" for o in others),
        "```",
        "",
    ])
    splice(ROOT / "docs" / "report.md", "files", body)


def screenshot(scratch: Path) -> None:
    from playwright.sync_api import sync_playwright

    initopt("study", "run", "--report", "default.html", cwd=scratch)
    initopt("study", "run", str(ROOT / "examples" / "adamw_vs_adam.toml"), "--db", "adamw.db", "--report", "adamw.html",
            cwd=scratch)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((scratch / "default.html").as_uri(), wait_until="load")
        page.screenshot(path=str(ROOT / "docs" / "report-default.png"))
        page.goto((scratch / "adamw.html").as_uri(), wait_until="load")
        page.locator("section#lr-wd").screenshot(path=str(ROOT / "docs" / "gallery" / "adamw_vs_adam-heatmaps.png"))
        browser.close()
    print("docs/report-default.png, docs/gallery/adamw_vs_adam-heatmaps.png: regenerated")


def main() -> None:
    steps = sys.argv[1:] or list(STEPS)
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise SystemExit(f"unknown step {unknown[0]!r}: choose from {', '.join(STEPS)}")
    for step in steps:
        with tempfile.TemporaryDirectory(prefix=f"initopt-docs-{step}-") as scratch:
            {"train": train, "files": files, "screenshot": screenshot}[step](Path(scratch))


if __name__ == "__main__":
    main()
