"""``initopt bench optim``: the AdamW step of initopt against PyTorch's paths, in one run."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Measure initopt against PyTorch on this machine.", no_args_is_help=True)


@app.command("optim")
def optim(
    shapes: Annotated[str, typer.Option(help="Parameter set: gpt2-124m, gpt2-350m or many-small.")] = "gpt2-124m",
    device: Annotated[str, typer.Option(help="cuda or cpu.")] = "cuda",
    repeat: Annotated[int, typer.Option(min=1, help="Timed steps per path (the median is shown).")] = 10,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed steps first.")] = 3,
) -> None:
    """PyTorch for-loop / foreach / fused against initopt's paths: ms, Gparam/s, share of the floor."""
    import platform

    import torch
    from rich.console import Console
    from rich.table import Table

    from initopt.bench import optim as bench

    if device not in ("cuda", "cpu"):
        raise ValueError(f"--device must be cuda or cpu, got {device!r}")
    bench.shapes_for(shapes)  # validate before the slow part
    console = Console(stderr=True)
    with console.status("measuring") as status:
        rows, bandwidth, tensors, params = bench.run(
            shapes, device, warmup=warmup, repeat=repeat, progress=lambda label: status.update(f"timing {label}")
        )
    name = torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or platform.machine()
    title = (f"AdamW step, {shapes}: {tensors} tensors, {params / 1e6:.1f}M parameters, on {name} "
             f"(copy bandwidth {bandwidth / 1e9:.0f} GB/s; torch {torch.__version__})")  # fmt: skip
    table = Table(title=title)
    for column in bench.HEADER:
        table.add_column(column, justify="left" if column in ("path", "kernel") else "right")
    for row in bench.table(rows, bandwidth):
        table.add_row(*row)
    Console().print(table)
    print("floor: 28 bytes per parameter with float32 state, 20 with bfloat16 state, at the copy bandwidth")
