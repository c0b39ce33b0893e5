"""AdamW step: PyTorch's for-loop / foreach / fused against initopt's paths, in one process.

Usage: python benchmarks/optim_step.py [--device cuda|cpu] [--shapes gpt2-124m,gpt2-350m,many-small]
       [--repeat 10] [--warmup 3]
Prints one table per parameter set (ms per step, Gparam/s, share of the copy-bandwidth floor, ratio to
PyTorch fused); the same measurement as ``initopt bench optim``, as plain text for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import platform

import torch

from initopt.bench import optim as bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shapes", default="gpt2-124m,gpt2-350m,many-small")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    machine = torch.cuda.get_device_name(0) if args.device == "cuda" else f"{platform.machine()}, {torch.get_num_threads()} threads"
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = "not installed"
    print(f"{datetime.date.today()} · {machine} · torch {torch.__version__} · triton {triton_version}")
    for name in args.shapes.split(","):
        plan = bench.plan(name, args.device, warmup=args.warmup, repeat=args.repeat, full_size=True)
        rows, bandwidth = bench.run(plan)
        print(f"\n{name}: {len(plan.shapes)} tensors, {plan.params / 1e6:.1f}M parameters; copy bandwidth {bandwidth / 1e9:.0f} GB/s")
        print("| " + " | ".join(bench.HEADER) + " |")
        print("|" + "---|" * len(bench.HEADER))
        for row in bench.table(rows, bandwidth):
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
