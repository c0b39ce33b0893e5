"""What storing one bundle's epoch costs the process that writes a study (the driver, on a Ray cluster).

A study of 256 running configurations in a fresh SQLite file (WAL, as ``initopt study run`` opens it);
each call of ``record_epochs`` stores one epoch of all 256 in one transaction, as a bundle's epoch is
stored. Prints the median time per call over ``--epochs`` calls, repeated ``--repeats`` times.

Usage: python benchmarks/store_write.py [--configs 256] [--epochs 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from initopt.study.store import ConfigRecord, EpochRecord, SQLiteStore


def seconds_per_epoch(folder: Path, n_configs: int, n_epochs: int) -> float:
    with SQLiteStore(folder / f"s{time.monotonic_ns()}.db") as store:
        store.begin_study("s", {"name": "s"}, "k", {})
        ids = [f"c{i}" for i in range(n_configs)]
        store.add_configs("s", [ConfigRecord(id=i, init="he_normal", init_params={}, optimizer="adamw", hyper={},
                                             seed=0) for i in ids])
        store.mark_running("s", ids)
        started = time.perf_counter()
        for epoch in range(1, n_epochs + 1):
            store.record_epochs("s", [EpochRecord(i, epoch, 0.1, 0.2, 0.3, 0.4, 0.01, 0.5, 0.6) for i in ids])
        return (time.perf_counter() - started) / n_epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [seconds_per_epoch(Path(tmp), args.configs, args.epochs) for _ in range(args.repeats)]
    ms = sorted(1000 * r for r in runs)
    print(f"one epoch of a {args.configs}-configuration bundle stored: median {statistics.median(ms):.1f} ms "
          f"(runs: {', '.join(f'{m:.1f}' for m in ms)}); {1000 / statistics.median(ms):.0f} bundle-epochs a second")


if __name__ == "__main__":
    main()
