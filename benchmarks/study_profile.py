"""Where a bundle's time goes: each epoch's seconds, and the device kernels of a profiled run.

After a small warm-up bundle, trains one bundle of the default study's model (K configurations
spread over its grid) and prints every epoch's wall time (on CUDA the first holds the eager first
step and the captures), then the torch profiler's table of device kernels for a second, profiled run.

Usage: python benchmarks/study_profile.py [--k 512] [--epochs 5] [--device cuda] [--rows 25]
"""

from __future__ import annotations

import argparse
import math

import torch

from study_throughput import spread_workload, warm_up  # beside this script

from initopt.study.engine import train_bundle
from initopt.study.plan import plan_bundles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    workload, configs = spread_workload(args.k, args.epochs)
    bundles = plan_bundles(configs, per_config_bytes=1, budget_bytes=1 << 40)
    configs = list(bundles[0].configs)  # the largest bundle (the grid's order: one bundle below its limit)
    warm_up(workload, configs, args.device)
    seconds: list[float] = []
    train_bundle(workload, configs, device=args.device, on_epoch=lambda rows: seconds.append(rows[0].seconds))
    steps = math.ceil(len(workload.train) / workload.spec.train.batch_size)
    print(f"K={len(configs)}, {steps} steps per epoch, device {args.device}: epoch seconds "
          + ", ".join(f"{s * 1e3:.1f} ms" for s in seconds)
          + f"; the later epochs {sum(seconds[2:]) / max(1, len(seconds) - 2) / steps * 1e6:.1f} us per step")
    activities = [torch.profiler.ProfilerActivity.CPU]
    if args.device == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        train_bundle(workload, configs, device=args.device)
        if args.device == "cuda":
            torch.cuda.synchronize()
    sort = "cuda_time_total" if args.device == "cuda" else "cpu_time_total"
    print(prof.key_averages().table(sort_by=sort, row_limit=args.rows, max_name_column_width=60))


if __name__ == "__main__":
    main()
