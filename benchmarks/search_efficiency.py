"""Search efficiency: the full grid against successive halving from the same grid, in one process.

The default study's model and data with 16 learning rates (log-spaced, 1e-4 to 1e-1) instead of 4:
5 inits x 4 optimizers x 16 learning rates x 3 seeds = 960 configurations of 10 epochs. Trained
(a) as the full grid and (b) with ``[search] strategy = "halving"`` (eta 3, rungs after epochs 1, 3
and 9), each into its own SQLite file; then, for the record, random search and TPE over the same
space with the configuration-epochs halving spent as their budget. For each: the best setting it
finds (mean final validation accuracy over its seeds, as the report ranks), the configuration-epochs
it spent and its wall time (``run_study``: planning, training, storing).

Usage: python benchmarks/search_efficiency.py [--threads 1] [--eta 3] [--lrs 16] [--out DIR]
Floors (the studies issue): halving within 0.5 percentage points of the grid's best, with at most
35% of its configuration-epochs and at most 45% of its wall time.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from initopt.report.data import load_study, ranked_candidates
from initopt.study import default_spec_path, load_spec
from initopt.study.runner import run_study
from initopt.study.store import SQLiteStore


def grid_spec(n_lrs: int) -> dict:
    raw = load_spec(default_spec_path()).to_dict()
    lrs = [float(f"{10 ** (-4 + 3 * i / (n_lrs - 1)):.3g}") for i in range(n_lrs)]
    for table in raw["grid"]["optimizer"]:
        table["lr"] = lrs
    raw["name"] = "search-efficiency"
    return raw


def measure(raw: dict, db: Path) -> dict:
    started = time.perf_counter()
    report = run_study(raw, db=db)
    wall = time.perf_counter() - started
    with SQLiteStore(db) as store:
        epochs = sum(r.epochs_run for r in store.configs(raw["name"]))
    best = ranked_candidates(load_study(db))[0]
    return {"wall": wall, "config_epochs": epochs, "configs": report.n_configs, "best": best.mean, "label": best.label,
            "counts": dict(report.counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--lrs", type=int, default=16)
    parser.add_argument("--out", default=None, help="folder for the SQLite files (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(args.out or tempfile.mkdtemp(prefix="initopt-search-"))
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db*"):
        old.unlink()
    grid = grid_spec(args.lrs)
    run_study({**grid, "name": "warm-up", "grid": {**grid["grid"], "seeds": [0]}}, db=folder / "warm.db")

    results = {"grid": measure(grid, folder / "grid.db")}
    halving = {**grid, "search": {"strategy": "halving", "reduction_factor": args.eta, "min_epochs": 1}}
    results["halving"] = measure(halving, folder / "halving.db")
    budget = results["halving"]["config_epochs"]
    for strategy in ("random", "tpe"):
        raw = {**grid, "search": {"strategy": strategy, "budget_epochs": budget, "seed": 0}}
        results[strategy] = measure(raw, folder / f"{strategy}.db")

    base = results["grid"]
    print(f"search efficiency: default study's model, {base['configs']} configurations (16 lrs) x "
          f"{grid['train']['epochs']} epochs; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}; databases in {folder}")
    print(f"{'strategy':<9} {'configs':>7} {'config-epochs':>14} {'share':>6} {'wall s':>7} {'share':>6} "
          f"{'best mean val acc':>18} {'vs grid (pp)':>12}  best setting")
    for name, r in results.items():
        print(f"{name:<9} {r['configs']:>7} {r['config_epochs']:>14} {r['config_epochs'] / base['config_epochs']:>6.1%} "
              f"{r['wall']:>7.2f} {r['wall'] / base['wall']:>6.1%} {r['best']:>18.4f} "
              f"{100 * (r['best'] - base['best']):>+12.2f}  {r['label']}")
    h = results["halving"]
    met = (base["best"] - h["best"] <= 0.005 and h["config_epochs"] <= 0.35 * base["config_epochs"]
           and h["wall"] <= 0.45 * base["wall"])
    print(f"floor (halving within 0.5 pp, <= 35% of the configuration-epochs, <= 45% of the wall time): "
          f"{'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
