"""Study throughput: the same K configurations trained (a) one after another with a plain PyTorch loop
(torch.optim, tensor batches, no DataLoader) and (b) by initopt's bundled engine, in one process.

The configurations are spread evenly over the default study's grid (the model of the texts, MLP
100 -> 64 ReLU -> 1 on seed-binary, batch 32; inits x sgd / sgd momentum / adam / adamw x lr x seeds).
Both sides initialize, order the data and evaluate on the test split after every epoch the same way.

Usage: python benchmarks/study_throughput.py [--k 64] [--epochs 10] [--sample 8] [--device cpu] [--threads N]
``--sample S`` times S of the K configurations in the plain loop and scales by K / S (printed).
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import torch
import torch.nn.functional as F

from initopt.study import default_spec_path, load_spec, parse_spec
from initopt.study.engine import train_bundle
from initopt.study.plan import plan_bundles
from initopt.study.workload import prepare


def plain_loop(workload, config, device) -> float:
    """One configuration the way most people write it; returns the final validation accuracy."""
    model = workload.initialized_model(config).to(device)
    hyper = dict(config.hyper)
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=hyper["lr"], momentum=hyper["momentum"], weight_decay=hyper["weight_decay"])
    else:
        cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
        opt = cls(model.parameters(), lr=hyper["lr"], betas=tuple(hyper["betas"]), eps=hyper["eps"], weight_decay=hyper["weight_decay"])
    x, y = workload.train.x.to(device), workload.train.y.to(device)
    x_val, y_val = workload.test.x.to(device), workload.test.y.to(device)
    g = torch.Generator().manual_seed(config.seed)
    batch = workload.spec.train.batch_size
    for _ in range(workload.spec.train.epochs):
        order = torch.randperm(len(x), generator=g).to(device)
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            loss = F.binary_cross_entropy_with_logits(model(x[idx]).squeeze(-1), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            accuracy = ((model(x_val).squeeze(-1) > 0).float() == y_val).float().mean().item()
    return accuracy


def spread_workload(k: int, epochs: int):
    """The default study's workload trained ``epochs`` epochs, with enough seeds for ``k``
    configurations, and ``k`` configurations spread evenly over its grid: ``(workload, configs)``."""
    raw = load_spec(default_spec_path()).to_dict()
    raw["train"]["epochs"] = epochs
    raw["grid"]["seeds"] = list(range(max(3, math.ceil(k / 80))))
    workload = prepare(parse_spec(raw))
    grid = workload.spec.configs()
    return workload, [grid[int(i * len(grid) / k)] for i in range(k)] if k <= len(grid) else grid


def warm_up(workload, configs, device) -> None:
    """A few configurations of every optimizer family trained once, so that every kernel is compiled
    (once per machine: Triton keeps them on disk) and every library handle exists before a timing."""
    warm = plan_bundles(configs[:: max(1, len(configs) // 8)], per_config_bytes=1, budget_bytes=1 << 40)[0]
    train_bundle(workload, list(warm.configs), device=device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--sample", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    workload, configs = spread_workload(args.k, args.epochs)
    k = len(configs)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    plain_loop(workload, configs[0], args.device)  # warm-up
    sample = configs[:: max(1, k // args.sample)][: args.sample]
    sync()
    t0 = time.perf_counter()
    for config in sample:
        plain_loop(workload, config, args.device)
    sync()
    per_config = (time.perf_counter() - t0) / len(sample)
    sequential = per_config * k

    bundles = plan_bundles(configs, per_config_bytes=1, budget_bytes=1 << 40)
    warm_up(workload, configs, args.device)
    sync()
    epoch_seconds: list[float] = []  # each bundle epoch's time: its steps and its evaluation, not the setup
    t0 = time.perf_counter()
    for bundle in bundles:
        train_bundle(workload, list(bundle.configs), device=args.device,
                     on_epoch=lambda rows: epoch_seconds.append(max((r.seconds for r in rows), default=0.0)))
    sync()
    bundled = time.perf_counter() - t0

    steps = args.epochs * math.ceil(len(workload.train) / workload.spec.train.batch_size)
    print(f"study throughput: K={k} configurations x {args.epochs} epochs ({steps} steps each), device={args.device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"plain PyTorch loop, one after another: {per_config:.3f} s/config (timed {len(sample)}, scaled to K) -> {sequential:.1f} s")
    print(f"initopt bundled engine ({len(bundles)} bundles):       {bundled:.2f} s -> {bundled / k / steps * 1e6:.1f} us per config-step")
    print(f"  of which the epochs (steps and evaluation): {sum(epoch_seconds):.3f} s; setup (building and "
          f"initializing {k} models, stacking them): {bundled - sum(epoch_seconds):.3f} s")
    print(f"ratio: {sequential / bundled:.1f}x")


if __name__ == "__main__":
    main()
