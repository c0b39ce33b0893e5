"""Study throughput: the same K configurations trained (a) one after another with a plain PyTorch loop
(torch.optim, tensor batches, no DataLoader) and (b) by initopt's bundled engine, in one process.

``--workload`` picks what is trained (``WORKLOADS`` below; the floors are those of the studies of
real models):
- ``mlp``: the default study's grid (the model of the texts, MLP 100 -> 64 ReLU -> 1 on seed-binary,
  batch 32; inits x sgd / sgd momentum / adam / adamw x lr x seeds), spread evenly over K.
- ``mnist1d-cnn``: the MNIST-1D paper's CNN as a user factory (benchmarks/paper_models.py), batch 100.
- ``cnn2d``: the built-in cnn2d with BatchNorm on digits-images.
- ``transformer``: the built-in transformer (2 layers, d_model 64) on modular-addition.
- ``mf``: the built-in mf (dim 32) on synthetic-ratings.
For the others: AdamW, K/4 learning rates x 4 seeds. Both sides initialize, order the data and
evaluate the held-out splits (validation, where the spec keeps one, and test) after every epoch the
same way.

Usage: python benchmarks/study_throughput.py [--workload mlp] [--k K] [--epochs E] [--sample 8]
       [--device cpu] [--threads N] [--plain-malloc default|kept]
``--sample S`` times S of the K configurations in the plain loop and scales by K / S (printed).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import torch

from initopt.memory import keep_freed_memory
from initopt.study import default_spec_path, load_spec, parse_spec
from initopt.study.engine import train_bundle
from initopt.study.plan import plan_bundles
from initopt.study.workload import prepare
from initopt.training.losses import get_loss

sys.path.insert(0, str(Path(__file__).parent))  # the user-factory models (paper_models.py)

# name -> (the spec's workload and train tables, K, epochs, the floor of the ratio on the 2-core CPU)
WORKLOADS = {
    "mlp": (None, 64, 10, 20),
    "mnist1d-cnn": ({"workload": {"dataset": "mnist1d", "model": "paper_models:mnist1d_cnn"},
                     "train": {"batch_size": 100}, "init": "he_normal"}, 32, 2, 3),
    "cnn2d": ({"workload": {"dataset": "digits-images", "model": "cnn2d", "channels": 16, "depth": 2, "batchnorm": True},
               "train": {"batch_size": 32}, "init": "he_normal"}, 32, 3, 5),
    "transformer": ({"workload": {"dataset": "modular-addition", "model": "transformer", "d_model": 64, "layers": 2,
                                  "heads": 4, "data": {"p": 97, "train_fraction": 0.4}},
                     "train": {"batch_size": 64}, "init": "gpt2"}, 16, 1, 4),
    "mf": ({"workload": {"dataset": "synthetic-ratings", "model": "mf", "dim": 32}, "train": {"batch_size": 64},
            "init": "gpt2"}, 64, 3, 15),
}


def plain_loop(workload, config, device) -> float:
    """One configuration the way most people write it; returns the final validation loss. Evaluates the
    held-out splits the bundled engine evaluates (validation and test), so both do the same work."""
    model = workload.initialized_model(config).to(device)
    loss_fn = get_loss(workload.loss)
    hyper = dict(config.hyper)
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=hyper["lr"], momentum=hyper["momentum"], weight_decay=hyper["weight_decay"])
    else:
        cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
        opt = cls(model.parameters(), lr=hyper["lr"], betas=tuple(hyper["betas"]), eps=hyper["eps"], weight_decay=hyper["weight_decay"])
    x, y = workload.train.x.to(device), workload.train.y.to(device)
    # the held-out splits the engine evaluates each epoch: the validation split (where the spec keeps one), the test split
    held_out = [(s.x.to(device), s.y.to(device)) for s in (workload.val, workload.test) if s is not None]
    g = torch.Generator().manual_seed(config.seed)
    batch = workload.spec.train.batch_size
    for _ in range(workload.spec.train.epochs):
        order = torch.randperm(len(x), generator=g).to(device)
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val_loss = [loss_fn(model(xh), yh).item() for xh, yh in held_out][0]
        model.train()
    return val_loss


def spread_workload(k: int, epochs: int):
    """The default study's workload trained ``epochs`` epochs, with enough seeds for ``k``
    configurations, and ``k`` configurations spread evenly over its grid: ``(workload, configs)``."""
    raw = load_spec(default_spec_path()).to_dict()
    raw["train"]["epochs"] = epochs
    raw["grid"]["seeds"] = list(range(max(3, math.ceil(k / 80))))
    workload = prepare(parse_spec(raw))
    grid = workload.spec.configs()
    return workload, [grid[int(i * len(grid) / k)] for i in range(k)] if k <= len(grid) else grid


def sampled_workload(name: str, k: int, epochs: int):
    """One of ``WORKLOADS`` besides the MLP: AdamW, ``k / 4`` learning rates x 4 seeds."""
    tables, _, _, _ = WORKLOADS[name]
    lrs = [1e-3 * 1.5 ** i for i in range(max(1, k // 4))]
    raw = {"name": f"throughput-{name}", "workload": tables["workload"],
           "train": {"epochs": epochs, **tables["train"]},
           "grid": {"init": [tables["init"]], "seeds": [0, 1, 2, 3],
                    "optimizer": [{"name": "adamw", "lr": lrs, "weight_decay": [0.01]}]}}
    workload = prepare(parse_spec(raw))
    return workload, workload.spec.configs()[:k]


def warm_up(workload, configs, device) -> None:
    """A few configurations of every optimizer family trained once, so that every kernel is compiled
    (once per machine: Triton keeps them on disk) and every library handle exists before a timing."""
    warm = plan_bundles(configs[:: max(1, len(configs) // 8)], per_config_bytes=1, budget_bytes=1 << 40)[0]
    train_bundle(workload, list(warm.configs), device=device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="mlp")
    parser.add_argument("--k", type=int, default=None, help="configurations (default: the workload's)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the workload's)")
    parser.add_argument("--sample", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--plain-malloc", choices=("default", "kept"), default="default",
                        help="the plain loop with glibc's malloc as a script gets it (default), or with freed "
                             "memory kept as initopt's engines keep it (initopt.memory; set before the plain loop)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.plain_malloc == "kept":
        keep_freed_memory()
    _, default_k, default_epochs, floor = WORKLOADS[args.workload]
    args.k, args.epochs = args.k or default_k, args.epochs or default_epochs
    if args.workload == "mlp":
        workload, configs = spread_workload(args.k, args.epochs)
    else:
        workload, configs = sampled_workload(args.workload, args.k, args.epochs)
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
    print(f"study throughput of {args.workload} ({workload.spec.workload.model} on {workload.spec.workload.dataset}): K={k} configurations x {args.epochs} epochs ({steps} steps each), device={args.device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"plain PyTorch loop, one after another: {per_config:.3f} s/config (timed {len(sample)}, scaled to K) -> {sequential:.1f} s"
          f" (malloc: {'freed memory kept' if args.plain_malloc == 'kept' else 'glibc defaults'})")
    print(f"initopt bundled engine ({len(bundles)} bundles):       {bundled:.2f} s -> {bundled / k / steps * 1e6:.1f} us per config-step")
    print(f"  of which the epochs (steps and evaluation): {sum(epoch_seconds):.3f} s; setup (building and "
          f"initializing {k} models, stacking them): {bundled - sum(epoch_seconds):.3f} s")
    print(f"ratio: {sequential / bundled:.2f}x (floor {floor}x)")


if __name__ == "__main__":
    main()
