r"""The optimizer step against PyTorch, in one process: ms, Gparam/s and share of the bandwidth floor.

An AdamW step is memory traffic: with float32 state it reads parameter, gradient, :math:`m`,
:math:`v` and writes parameter, :math:`m`, :math:`v`, 28 bytes per parameter; with bfloat16 state
20. Its floor is ``bytes * n / bandwidth``, with the bandwidth of a large device copy measured in
the same run (read + write counted). Each path runs ``warmup`` steps, then is timed three ways on
the same parameters and gradients:

- ``ms/step``: ``repeat`` steps back to back, as in training (the host queues the next step while
  the device runs this one), timed by device events; the median over 5 rounds. This is the figure
  the ratios use.
- ``synced``: one step between two synchronizations (the anchor's method): device time plus the
  host time before the first launch; the median of ``repeat`` steps.
- ``host``: the host's time inside ``step()`` (Python and launches), the median of ``repeat`` steps.

On the CPU a set keeps at most its first ``CPU_MAX_TENSORS`` tensors, their first dimension divided
until it holds about ``CPU_MAX_PARAMS`` parameters, and fewer steps are taken (``STEPS``): many
tensors, and so the per-tensor overhead that separates the paths, stay, and every set is timed in
well under a minute on 2 cores. :func:`plan` says what will be timed before anything is.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from initopt.optim import AdamW
from initopt.optim.paths import fused_implementation

SHAPES = ("gpt2-124m", "gpt2-350m", "many-small", "tiny")
# On the CPU a set keeps its first CPU_MAX_TENSORS tensors, scaled to about CPU_MAX_PARAMS parameters:
# the slowest path (bfloat16 state, a Python loop over tensors) then takes seconds, not minutes. The
# tensor cap also bounds a shared machine's worst case: each tensor of a fused CPU step is a parallel
# region, and a thread that another process has descheduled stalls it for milliseconds.
CPU_MAX_PARAMS, CPU_MAX_TENSORS = 1 << 20, 256
DEVICES = ("cuda", "cpu")


@dataclass(frozen=True)
class Steps:
    """Steps per path: untimed, then ``repeat`` per measurement (``rounds`` of them back to back)."""

    warmup: int
    repeat: int
    rounds: int

    @property
    def per_path(self) -> int:
        return self.warmup + self.repeat * (2 + self.rounds)  # synced + rounds x back to back + host


STEPS = {"cuda": Steps(warmup=3, repeat=10, rounds=5), "cpu": Steps(warmup=1, repeat=2, rounds=3)}


def gpt2_shapes(layers: int, width: int, vocab: int = 50257, context: int = 1024) -> list[tuple[int, ...]]:
    """Parameter shapes of GPT-2 (Radford et al. 2019): embeddings, per block two LayerNorms,
    attention (c_attn, c_proj) and MLP (c_fc, c_proj) with biases, final LayerNorm."""
    block = [(width,), (width,), (width, 3 * width), (3 * width,), (width, width), (width,),
             (width,), (width,), (width, 4 * width), (4 * width,), (4 * width, width), (width,)]  # fmt: skip
    return [(vocab, width), (context, width), *block * layers, (width,), (width,)]


def shapes_for(name: str) -> list[tuple[int, ...]]:
    """``gpt2-124m`` (148 tensors, 124.4M), ``gpt2-350m`` (GPT-2 medium: 292 tensors, 354.8M) or
    ``many-small`` (4096 tensors of 1k-8k elements, 18.9M: the launch-bound case); ``tiny`` (16
    tensors, 64k: a smoke test of the command, not a measurement)."""
    if name == "gpt2-124m":
        return gpt2_shapes(12, 768)
    if name == "gpt2-350m":
        return gpt2_shapes(24, 1024)
    if name == "many-small":
        return [(1024 * (1 + i % 8),) for i in range(4096)]
    if name == "tiny":
        return [(4096,)] * 16
    raise ValueError(f"--shapes must be one of {', '.join(SHAPES)}, got {name!r}")


def scaled(shapes: list[tuple[int, ...]], max_params: int) -> tuple[list[tuple[int, ...]], int]:
    """``(shapes, divisor)``: every tensor's first dimension divided by ``divisor``, the smallest that
    brings the set to about ``max_params`` parameters (each keeps at least one row); the tensor count
    stays."""
    divisor = max(1, math.ceil(sum(math.prod(s) for s in shapes) / max_params))
    return [(max(1, s[0] // divisor), *s[1:]) for s in shapes], divisor


@dataclass(frozen=True)
class Plan:
    """What :func:`run` times: the tensors of a parameter set (scaled on the CPU), steps, threads."""

    name: str
    device: str
    shapes: list[tuple[int, ...]]
    divisor: int  # each tensor's first dimension was divided by this (1: the published sizes)
    of: int  # tensors in the published set (more than len(shapes) when the CPU keeps the first ones)
    steps: Steps
    threads: int  # torch's CPU threads (the CPU paths run on them)

    @property
    def params(self) -> int:
        return sum(math.prod(s) for s in self.shapes)

    def describe(self) -> str:
        """``gpt2-124m on cpu (2 threads): 148 tensors, 1.0M parameters (first dimension / 119 on the
        CPU); 6 paths x 11 steps (...)``"""
        size = f"{len(self.shapes)} tensors" + (f" (the first of {self.of})" if self.of > len(self.shapes) else "")
        size += f", {self.params / 1e6:.1f}M parameters"
        if self.divisor > 1:
            size += f" (first dimension / {self.divisor} on the CPU)"
        s = self.steps
        where = self.device if self.device != "cpu" else f"cpu ({self.threads} thread{'s' * (self.threads != 1)})"
        return (f"{self.name} on {where}: {size}; {len(paths(None))} paths x "
                f"{s.per_path} steps ({s.warmup} untimed, {s.repeat} synced, {s.rounds} x {s.repeat} back to back, "
                f"{s.repeat} host)")


def plan(name: str, device: str, warmup: int | None = None, repeat: int | None = None, *,
         full_size: bool = False) -> Plan:  # fmt: skip
    """The shapes and steps for ``name`` on ``device``; ``warmup``/``repeat`` override the device's
    ``STEPS``; ``full_size`` times the published sizes on the CPU too. Checks every option."""
    if device not in DEVICES:
        raise ValueError(f"--device must be {' or '.join(DEVICES)}, got {device!r}")
    shapes, divisor = shapes_for(name), 1
    if device == "cpu" and not full_size:
        shapes, divisor = scaled(shapes[:CPU_MAX_TENSORS], CPU_MAX_PARAMS)
    default = STEPS[device]
    steps = Steps(default.warmup if warmup is None else warmup, default.repeat if repeat is None else repeat, default.rounds)
    if steps.warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {steps.warmup}")
    if steps.repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {steps.repeat}")
    threads = torch.get_num_threads() if device == "cpu" else 1
    return Plan(name, device, shapes, divisor, len(shapes_for(name)), steps, threads)


@dataclass
class Row:
    name: str
    kernel: str
    ms: float
    bytes_per_param: int
    params: int
    synced_ms: float = float("nan")
    host_ms: float = float("nan")

    @property
    def gparams_per_s(self) -> float:
        return self.params / self.ms / 1e6

    def floor_share(self, bandwidth: float) -> float:
        """Share of the bandwidth floor reached: floor time / measured time."""
        return self.bytes_per_param * self.params / bandwidth / (self.ms / 1e3)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn: Callable[[], None], device: torch.device, warmup: int, repeat: int) -> float:
    """Median ms of one call, synchronized before and after each call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def pipelined_ms(fn: Callable[[], None], device: torch.device, repeat: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean ms per call of ``repeat`` calls back to back (device
    events on CUDA, so the host may run ahead of the device as in a training loop)."""
    means = []
    for _ in range(rounds):
        _sync(device)
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(repeat):
                fn()
            end.record()
            end.synchronize()
            means.append(start.elapsed_time(end) / repeat)
        else:
            t0 = time.perf_counter()
            for _ in range(repeat):
                fn()
            means.append((time.perf_counter() - t0) * 1e3 / repeat)
    return statistics.median(means)


def host_ms(fn: Callable[[], None], device: torch.device, repeat: int) -> float:
    """Median host ms inside one call (synchronized before it, not after)."""
    times = []
    for _ in range(repeat):
        _sync(device)
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    _sync(device)
    return statistics.median(times)


def copy_bandwidth(device: torch.device, numel: int = 1 << 27, rounds: int = 5) -> float:
    """Bytes per second of ``dst.copy_(src)`` for a large float32 buffer, read + write counted."""
    src = torch.randn(numel, device=device)  # random data: zeros can run faster than real data
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    ms = pipelined_ms(lambda: dst.copy_(src), device, repeat=10, rounds=rounds)
    return 2 * 4 * numel / (ms / 1e3)


def _params(shapes: list[tuple[int, ...]], device: torch.device, seed: int = 0) -> list[Tensor]:
    g = torch.Generator(device=device).manual_seed(seed)
    params = []
    for shape in shapes:
        p = torch.empty(shape, device=device).normal_(generator=g).requires_grad_()
        p.grad = torch.empty_like(p).normal_(generator=g)
        params.append(p)
    return params


def paths(device: torch.device) -> list[tuple[str, Callable[[list[Tensor]], torch.optim.Optimizer], int]]:
    """(label, make optimizer, bytes per parameter) for every path compared."""
    out: list[tuple[str, Callable[[list[Tensor]], torch.optim.Optimizer], int]] = [
        ("PyTorch for-loop", lambda p: torch.optim.AdamW(p, foreach=False), 28),
        ("PyTorch foreach", lambda p: torch.optim.AdamW(p, foreach=True), 28),
        ("PyTorch fused", lambda p: torch.optim.AdamW(p, fused=True), 28),
        ("initopt foreach", lambda p: AdamW(p, foreach=True), 28),
        ("initopt fused", lambda p: AdamW(p, fused=True), 28),
        ("initopt fused, bfloat16 state", lambda p: AdamW(p, fused=True, state_dtype=torch.bfloat16), 20),
    ]
    return out


def run(plan: Plan, only: list[str] | None = None,
        progress: Callable[[int, str], None] | None = None) -> tuple[list[Row], float]:  # fmt: skip
    """Time every path of ``plan``; returns (rows, copy bandwidth B/s). ``progress(done, label)`` is
    called before each path."""
    dev = torch.device(plan.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device here (use --device cpu)")
    steps = plan.steps
    bandwidth = copy_bandwidth(dev, numel=1 << (27 if dev.type == "cuda" else 24), rounds=steps.rounds)
    rows = []
    chosen = [p for p in paths(dev) if not only or p[0] in only]
    for done, (label, make, bytes_per_param) in enumerate(chosen):
        if progress:
            progress(done, label)
        params = _params(plan.shapes, dev)
        opt = make(params)
        low = "bfloat16" in label
        kernel = (fused_implementation(params[:1], low) if "fused" in label and label.startswith("initopt")
                  else label.split()[-1] if label.startswith("PyTorch") else "foreach")  # fmt: skip
        synced = median_ms(opt.step, dev, steps.warmup, steps.repeat)
        ms = pipelined_ms(opt.step, dev, steps.repeat, steps.rounds)
        host = host_ms(opt.step, dev, steps.repeat)
        rows.append(Row(label, kernel, ms, bytes_per_param, plan.params, synced, host))
        del opt, params
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return rows, bandwidth


def table(rows: list[Row], bandwidth: float) -> list[list[str]]:
    """Rows of text: path, kernel, ms, Gparam/s, share of floor, ratio to PyTorch fused, synced ms,
    host ms."""
    fused = next((r.ms for r in rows if r.name == "PyTorch fused"), None)
    out = []
    for r in rows:
        ratio = f"{fused / r.ms:.2f}x" if fused else "-"
        out.append([r.name, r.kernel, f"{r.ms:.3f}", f"{r.gparams_per_s:.3g}", f"{100 * r.floor_share(bandwidth):.0f}%",
                    ratio, f"{r.synced_ms:.3f}", f"{r.host_ms:.3f}"])
    return out


HEADER = ["path", "kernel", "ms/step", "Gparam/s", "of floor", "vs PyTorch fused", "synced ms", "host ms"]
