"""``initopt explain SCHEME --fan-in N``: the real numbers of an initialization for one layer."""

from __future__ import annotations

from typing import Annotated

import typer


def explain(
    scheme: Annotated[str, typer.Argument(help="Scheme name, with parameters as NAME:key=value,... (e.g. gaussian:std=0.01).")],
    fan_in: Annotated[int, typer.Option("--fan-in", min=1, help="Inputs per unit (Linear in_features; Conv in_channels x kernel size).")],
    fan_out: Annotated[int | None, typer.Option("--fan-out", min=1, help="Outputs per unit; needed by xavier_* and orthogonal.")] = None,
    nonlinearity: Annotated[str, typer.Option(help="Activation after the layer, for the gain of he_* schemes.")] = "relu",
) -> None:
    """Print std, bound, variance formula and the interval holding 99.7% of the weights."""
    from initopt.cli.options import parse_scheme
    from initopt.init import explain as explain_scheme

    spec = parse_scheme(scheme, option="SCHEME")
    name = spec.pop("name")
    print(explain_scheme(name, fan_in, fan_out, nonlinearity=nonlinearity, **spec))
