"""``initopt bench optim``: the AdamW step of initopt against PyTorch's paths, in one run."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Measure initopt against PyTorch on this machine.", no_args_is_help=True)

#: Dropped in this order when the terminal is too narrow (the path, its kernel and its time stay).
LOW_VALUE_COLUMNS = ("host ms", "synced ms", "Gparam/s")


@app.command("optim")
def optim(
    shapes: Annotated[str, typer.Option(help="Parameter set: gpt2-124m, gpt2-350m, many-small or tiny (scaled down on the CPU).")] = "gpt2-124m",
    device: Annotated[str, typer.Option(help="cuda or cpu.")] = "cuda",
    repeat: Annotated[int | None, typer.Option(min=1, help="Timed steps per measurement (default 10 on cuda, 3 on cpu).")] = None,
    warmup: Annotated[int | None, typer.Option(min=0, help="Untimed steps first (default 3 on cuda, 1 on cpu).")] = None,
) -> None:
    """PyTorch for-loop / foreach / fused against initopt's paths: ms, Gparam/s, share of the floor."""
    import platform

    import torch

    from initopt._terminal import Fit, Progress, console, new_table
    from initopt.bench import optim as bench

    plan = bench.plan(shapes, device, warmup, repeat)  # checks every option before the slow part
    out = console()
    out.print(f"timing AdamW: {plan.describe()}", markup=False, highlight=False)
    with Progress("bench", "paths") as bar:
        bar.start(len(bench.paths(None)))
        rows, bandwidth = bench.run(plan, progress=lambda done, label: bar.update(done - bar.done, detail=label))
        bar.update(len(rows) - bar.done, detail="")
    name = torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or platform.machine()
    title = (f"AdamW step, {shapes}: {len(plan.shapes)} tensors, {plan.params / 1e6:.1f}M parameters, on {name} "
             f"(copy bandwidth {bandwidth / 1e9:.0f} GB/s; torch {torch.__version__})")  # fmt: skip
    table = new_table(title=title)
    for column in bench.HEADER:
        table.add_column(column, justify="left" if column in ("path", "kernel") else "right",
                         no_wrap=column not in ("path", "vs PyTorch fused"))
    for row in bench.table(rows, bandwidth):
        table.add_row(*row)
    out.print(Fit(table, drop=LOW_VALUE_COLUMNS))
    print("floor: 28 bytes per parameter with float32 state, 20 with bfloat16 state, at the copy bandwidth")
