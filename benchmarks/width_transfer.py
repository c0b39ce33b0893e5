"""Does the best learning rate move with width? SP against muP, with plain training loops.

The MLP 40 -> W -> W -> 10 on MNIST-1D (4000 training examples), He init, AdamW (weight decay 0),
batch 100, 5 epochs, at widths 64, 256 and 1024 and learning rates in steps of 2x; the objective is
the final training loss (mean over the last epoch), averaged over seeds. Under SP (one lr for every
layer) and under muP (``initopt.init.parametrize(model, "mup", base_width=64, scheme="he_normal")``,
its param groups given to ``initopt.optim.AdamW``). Prints each width's best lr and how far it moves.

Usage: python benchmarks/width_transfer.py [--seeds 3] [--threads 1]
The issue's expectation: under SP the best lr moves by 4x or more across the widths; under muP it
stays within one grid step (2x).
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import torch
from torch import nn

from initopt import init, optim
from initopt.data import load_validated
from initopt.models.mlp import mlp

WIDTHS = (64, 256, 1024)
LRS = tuple(round(1e-4 * 2**k, 7) for k in range(0, 10))  # 1e-4 ... 5.12e-2


def final_loss(x, y, width: int, lr: float, parametrization: str, seed: int, epochs: int = 5,
               batch: int = 100) -> float:
    torch.manual_seed(seed)
    model = mlp(x.shape[1], [width, width], 10)
    init.initialize(model, "he_normal", seed=seed)
    groups = init.parametrize(model, parametrization, base_width=WIDTHS[0], scheme="he_normal")
    opt = optim.AdamW(groups, lr=lr, weight_decay=0.0)
    order = torch.Generator().manual_seed(seed)
    total = 0.0
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=order)
        total, seen = 0.0, 0
        for start in range(0, len(x), batch):
            index = perm[start : start + batch]
            loss = nn.functional.cross_entropy(model(x[index]), y[index])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, seen = total + loss.item() * len(index), seen + len(index)
        total /= seen
    return total if math.isfinite(total) else math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    splits = load_validated("mnist1d", 0.0)
    x, y = splits.train.x, splits.train.y
    print(f"# width_transfer: {platform.node()}, torch {torch.__version__}, {args.seeds} seeds, "
          f"{time.strftime('%Y-%m-%d')}")
    started = time.perf_counter()
    for parametrization in ("sp", "mup"):
        best = {}
        for width in WIDTHS:
            losses = {lr: sum(final_loss(x, y, width, lr, parametrization, s) for s in range(args.seeds)) / args.seeds
                      for lr in LRS}
            best[width] = min(losses, key=losses.get)
            row = " ".join(f"{losses[lr]:.3f}" for lr in LRS)
            print(f"{parametrization} width {width:5d}: best lr {best[width]:.2e} (loss {losses[best[width]]:.4f}) | {row}")
        drift = max(best.values()) / min(best.values())
        print(f"{parametrization}: the best lr moves {drift:.0f}x across widths {WIDTHS[0]}-{WIDTHS[-1]} "
              f"({math.log2(drift):.0f} grid steps of 2x)")
    print(f"lrs: {', '.join(f'{lr:.2e}' for lr in LRS)}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
