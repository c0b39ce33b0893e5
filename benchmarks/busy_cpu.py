"""Training time on a shared CPU: the default study and `initopt train`, idle and beside other programs.

Each command runs as a user runs it (a subprocess of the `initopt` CLI), on an idle machine and beside
one and two CPU-bound processes of another program (`python -c "while True: pass"`), with
initopt's default thread setting (`auto`) and with PyTorch's own default (one thread per core,
`--threads N`). The time is the training time the command prints (the study's "run in X s", train's
"(X s)"), so that interpreter start-up is left out. Prints each time and its ratio to the idle
machine's time with the default setting; the issue's floors are 2x beside one process and 3x beside two.

    python benchmarks/busy_cpu.py [--repeat 3]

Run it with nothing else on the machine: the "other programs" are the ones it starts.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOG = [sys.executable, "-c", "while True: pass"]
PATTERNS = {"study": re.compile(r"configurations run in ([\d.]+)s"), "train": re.compile(r"\(([\d.]+)s\)")}


def command(kind: str, folder: Path, threads: str) -> list[str]:
    initopt = [sys.executable, "-m", "initopt.cli.main"]
    if kind == "study":
        db = folder / f"busy-{time.monotonic_ns()}.db"
        return [*initopt, "study", "run", "--db", str(db), "--report", str(folder / "r.html"), "--threads", threads]
    return [*initopt, "train", "--verbose", "2", "--threads", threads]


def timed(kind: str, folder: Path, threads: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run(command(kind, folder, threads), capture_output=True, text=True, env=env, cwd=folder, check=True)
    return float(PATTERNS[kind].findall(out.stdout)[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} cores; python {sys.version.split()[0]}; {args.repeat} runs each, median (min-max)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in ("study", "train"):
            idle = None
            for hogs in (0, 1, 2):
                procs = [subprocess.Popen(HOG) for _ in range(hogs)]
                try:
                    time.sleep(0.5)
                    for threads in ("auto", str(cores)):
                        times = [timed(kind, folder, threads) for _ in range(args.repeat)]
                        median = statistics.median(times)
                        if hogs == 0 and threads == "auto":
                            idle = median
                        label = "auto" if threads == "auto" else f"{threads} (torch's default)"
                        print(f"{kind:5}  beside {hogs} busy  threads {label:20}  {median:6.2f} s "
                              f"({min(times):.2f}-{max(times):.2f})  {median / idle:5.2f}x the idle default", flush=True)
                finally:
                    for p in procs:
                        p.kill()
                        p.wait()


if __name__ == "__main__":
    main()
