"""Launch shape of initopt's Triton AdamW kernel: elements per program (BLOCK) x warps per program.

Times initopt's fused AdamW (float32 state and bfloat16 state) for every (BLOCK, num_warps) pair on
one parameter set, back to back as in training (device events, median of 5 rounds), beside PyTorch's
fused AdamW and a flat variant (the same number of parameters as one tensor: what the multi-tensor
tables cost against a flat parameter buffer).

Usage: python benchmarks/optim_tune.py [--shapes gpt2-124m] [--blocks 1024,2048,4096,8192] [--warps 4,8,16]
"""

from __future__ import annotations

import argparse

import torch

from initopt.bench import optim as bench
from initopt.optim import AdamW
from initopt.optim._triton import launch


def time_step(shapes, make, device, repeat) -> float:
    params = bench._params(shapes, device)
    opt = make(params)
    for _ in range(3):
        opt.step()
    ms = bench.pipelined_ms(opt.step, device, repeat)
    del opt, params
    torch.cuda.empty_cache()
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="gpt2-124m")
    parser.add_argument("--blocks", default="1024,2048,4096,8192")
    parser.add_argument("--warps", default="4,8,16")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    device = torch.device("cuda")
    shapes = bench.shapes_for(args.shapes)
    numel = sum(torch.Size(s).numel() for s in shapes)
    bandwidth = bench.copy_bandwidth(device)
    floor = {28: 28 * numel / bandwidth * 1e3, 20: 20 * numel / bandwidth * 1e3}
    print(f"{args.shapes}: {len(shapes)} tensors, {numel / 1e6:.1f}M parameters; copy {bandwidth / 1e9:.0f} GB/s; "
          f"floor {floor[28]:.3f} ms (float32 state), {floor[20]:.3f} ms (bfloat16 state)")
    fused = time_step(shapes, lambda p: torch.optim.AdamW(p, fused=True), device, args.repeat)
    print(f"PyTorch fused: {fused:.3f} ms ({100 * floor[28] / fused:.0f}% of floor)")
    default = (launch.BLOCK, launch.NUM_WARPS)
    print("| BLOCK | warps | float32 state ms | of floor | vs PyTorch fused | flat ms | bfloat16 state ms | of floor | vs PyTorch fused |")
    print("|---|---|---|---|---|---|---|---|---|")
    for block in map(int, args.blocks.split(",")):
        for warps in map(int, args.warps.split(",")):
            if block // (32 * warps) < 4:  # under 4 elements per thread: no 128-bit accesses
                continue
            launch.BLOCK, launch.NUM_WARPS = block, warps
            f32 = time_step(shapes, lambda p: AdamW(p, fused=True), device, args.repeat)
            flat = time_step([(numel,)], lambda p: AdamW(p, fused=True), device, args.repeat)
            bf16 = time_step(shapes, lambda p: AdamW(p, fused=True, state_dtype=torch.bfloat16), device, args.repeat)
            print(f"| {block} | {warps} | {f32:.3f} | {100 * floor[28] / f32:.0f}% | {fused / f32:.2f}x | {flat:.3f} | "
                  f"{bf16:.3f} | {100 * floor[20] / bf16:.0f}% | {fused / bf16:.2f}x |")
    launch.BLOCK, launch.NUM_WARPS = default


if __name__ == "__main__":
    main()
