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

from initopt.study import default_spec_path, load_spec, parse_spec
from initopt.study.engine import train_bundle
from initopt.study.plan import plan_bundles
from initopt.study.workload import prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    raw = load_spec(default_spec_path()).to_dict()
    raw["train"]["epochs"] = args.epochs
    raw["grid"]["seeds"] = list(range(max(3, math.ceil(args.k / 80))))
    workload = prepare(parse_spec(raw))
    grid = workload.spec.configs()
    configs = [grid[int(i * len(grid) / args.k)] for i in range(args.k)] if args.k <= len(grid) else grid
    bundles = plan_bundles(configs, per_config_bytes=1, budget_bytes=1 << 40)
    configs = list(bundles[0].configs)  # the largest bundle (the grid's order: one bundle below its limit)
    warm = plan_bundles(configs[:: max(1, len(configs) // 8)], per_config_bytes=1, budget_bytes=1 << 40)[0]
    train_bundle(workload, list(warm.configs), device=args.device)  # kernels compiled, handles made
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
