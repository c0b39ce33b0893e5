"""Report time against study size: the HTML report, the Markdown report and the terminal table of
studies of 1,000 and 10,000 configurations, each in its own SQLite file made by this script.

The studies are real grids (the spec's configurations and ids, 10 epochs each, breast-cancer's
workload) whose results are drawn, not trained: a smooth function of init, lr and weight decay plus
seed noise, the largest learning rates diverging part-way. Only the report is timed, so where the
numbers come from does not matter; their shape (curves, ties, divergences) does.

With ``--browser`` (Playwright and /usr/bin/chromium), each HTML report is also opened in headless
Chromium and the time to its load event printed.

Usage: python benchmarks/report_scale.py [--sizes 1000 10000] [--keep DIR] [--repeat 1] [--browser]
"""

from __future__ import annotations

import argparse
import io
import math
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

INITS = ["he_normal", "xavier_normal", "lecun_normal", {"name": "gaussian", "std": 0.01}, "orthogonal"]
EPOCHS = 10


def grid(n: int) -> dict:
    """A spec of ``n`` configurations (1,000: 5 inits x 20 lrs x 5 weight decays x 2 seeds; 10,000: 5 inits x
    2 optimizers x 20 lrs x 10 weight decays x 5 seeds)."""
    lrs = [round(1e-4 * 10 ** (i * 3 / 19), 8) for i in range(20)]
    if n == 1000:
        optimizers = [{"name": "adamw", "lr": lrs, "weight_decay": [0.0, 1e-4, 1e-3, 1e-2, 1e-1]}]
        seeds = [0, 1]
    elif n == 10000:
        decays = [0.0] + [round(10 ** (-5 + i * 4 / 8), 8) for i in range(9)]
        optimizers = [{"name": name, "lr": lrs, "weight_decay": decays} for name in ("adam", "adamw")]
        seeds = [0, 1, 2, 3, 4]
    else:
        raise SystemExit(f"--sizes: 1000 or 10000, got {n}")
    return {"name": f"report-scale-{n}", "description": f"{n} configurations for benchmarks/report_scale.py",
            "workload": {"dataset": "breast-cancer", "model": "mlp", "hidden": [32]},
            "train": {"epochs": EPOCHS, "batch_size": 32, "loss": "bce", "metric": "accuracy"},
            "grid": {"init": INITS, "seeds": seeds, "optimizer": optimizers}}


def make_db(path: Path, n: int) -> str:
    """Write a study of ``n`` configurations with drawn results into ``path``; return its name."""
    from initopt.study import parse_spec
    from initopt.study.runner import _config_record
    from initopt.study.store import EpochRecord, ResultRecord, SQLiteStore, Status

    spec = parse_spec(grid(n))
    configs = spec.configs()
    assert len(configs) == n, len(configs)
    rng = random.Random(0)
    labels = list(dict.fromkeys(c.init_label for c in configs))
    with SQLiteStore(path) as store:
        store.begin_study(spec.name, spec.to_dict(), spec.workload_key(), {"python": platform.python_version()})
        store.add_configs(spec.name, [_config_record(c) for c in configs])
        store.mark_running(spec.name, [c.id for c in configs])
        epochs, results = [], []
        for c in configs:
            lr, wd = c.hyper["lr"], c.hyper.get("weight_decay", 0.0)
            quality = 0.97 - 0.02 * (math.log10(lr) + 2.5) ** 2 - 0.2 * wd - 0.004 * labels.index(c.init_label)
            diverge_at = rng.randint(2, EPOCHS) if lr > 0.05 and rng.random() < 0.5 else None
            last = diverge_at or EPOCHS
            for e in range(1, last + 1):
                bad = e == diverge_at
                acc = max(0.3, quality - 0.3 / e + rng.gauss(0, 0.005))
                loss = math.nan if bad else 0.7 * (1 - acc) + 0.05 / e
                epochs.append(EpochRecord(c.id, e, loss, acc, loss * 1.1, acc - 0.01, 0.01, loss * 1.12, acc - 0.012))
            if diverge_at:
                results.append(ResultRecord(c.id, Status.DIVERGED, diverge_at, math.nan, math.nan, math.nan,
                                            diverged_epoch=diverge_at, wall_seconds=0.1))
            else:
                e = epochs[-1]
                results.append(ResultRecord(c.id, Status.DONE, EPOCHS, e.train_loss, e.val_loss, e.val_metric,
                                            wall_seconds=0.1, test_loss=e.test_loss, test_metric=e.test_metric))
        store.record_epochs(spec.name, epochs)
        store.finish(spec.name, results)
    return spec.name


def time_report(db: Path, name: str, out: Path) -> dict[str, float]:
    """Seconds of each part, as ``initopt study run`` does them (one read and computation of the study
    for the terminal table and the report), then the Markdown report from the same computation."""
    from rich.console import Console

    from initopt.cli.render import summary_table
    from initopt.report import load_report, save_report

    times = {}
    t0 = time.perf_counter()
    report = load_report(db, name)
    times["compute (load + sections)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    Console(file=io.StringIO(), width=100).print(summary_table(report.study, report.candidates))
    times["terminal table"] = time.perf_counter() - t0
    for fmt, suffix in (("html", ".html"), ("markdown", ".md")):
        t0 = time.perf_counter()
        save_report(report, out / f"{name}{suffix}", fmt)
        times[f"render {fmt}"] = time.perf_counter() - t0
    times["total"] = sum(times.values())
    times["html bytes"] = (out / f"{name}.html").stat().st_size
    return times


def browser_load(html: Path, times: int) -> list[float]:
    """Seconds from navigation to the load event of ``html`` in headless Chromium, ``times`` times."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        for _ in range(times):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            t0 = time.perf_counter()
            page.goto(html.resolve().as_uri(), wait_until="load")
            out.append(time.perf_counter() - t0)
            page.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--keep", type=Path, default=None, help="keep the databases and reports in this folder")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--browser", action="store_true", help="time opening each HTML report in headless Chromium")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="report-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"report scale: Python {platform.python_version()}, {platform.machine()}, files in {folder}")
    floors = {1000: 3.0, 10000: 20.0}
    t0 = time.perf_counter()
    warm = folder / "warm-up.db"
    warm.unlink(missing_ok=True)
    time_report(warm, make_db(warm, 1000), folder)  # imports (SciPy, scikit-learn, matplotlib) and font caches
    print(f"warm-up (the libraries' imports and a first report, not counted below): {time.perf_counter() - t0:.1f} s")
    for n in args.sizes:
        db = folder / f"study-{n}.db"
        db.unlink(missing_ok=True)
        t0 = time.perf_counter()
        name = make_db(db, n)
        print(f"{n} configurations: database made in {time.perf_counter() - t0:.1f} s ({db.stat().st_size / 1e6:.1f} MB)")
        for _ in range(args.repeat):
            times = time_report(db, name, folder)
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in times.items() if k not in ("total", "html bytes"))
            print(f"  {parts}; total {times['total']:.2f} s (floor {floors.get(n, math.nan):g} s); "
                  f"HTML {times['html bytes'] / 1e6:.2f} MB")
        if args.browser:
            print(f"  opened in Chromium (to the load event, a fresh page each): "
                  + ", ".join(f"{s:.2f} s" for s in browser_load(folder / f"{name}.html", args.repeat + 2)) + " (floor 2 s)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
