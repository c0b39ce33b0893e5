"""``initopt doctor``: diagnose a model's initialization on a batch of a dataset, before training.

With no arguments: a 50-layer, 256-wide ReLU MLP (``deep-mlp``) with He weights on a seeded batch
of 256 ``seed-binary`` training examples, backward from the dataset's loss. Prints the per-layer
table, the verdict and one suggestion per problem. ``--plot depth.png`` also draws activation and
gradient std against depth for zeros, N(0, 1), N(0, 0.01^2), xavier_normal and he_normal (plus
``--init`` if it is none of them) on the same model.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

WIDE_TABLE = 200  # columns when stdout is not a terminal

DEFAULT_DEPTH, DEFAULT_WIDTH, DEFAULT_HIDDEN, DEFAULT_ACTIVATION = 50, 256, "64", "relu"
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
#: The model options each built-in takes from the command line.
_MODEL_OPTIONS = {"mlp": ("hidden", "activation"), "deep-mlp": ("depth", "width", "activation"), "cnn1d": ("activation",)}


def _model_options(model: str, depth: int | None, width: int | None, hidden: str | None, activation: str | None) -> dict[str, Any]:
    """The options ``build_model`` gets; a flag the chosen model does not take is an error naming it."""
    from initopt.cli.options import parse_sizes
    from initopt.models import make_activation

    given = {"depth": depth, "width": width, "hidden": hidden, "activation": activation}
    key = model.strip().lower().replace("_", "-")
    accepted = () if ":" in model else _MODEL_OPTIONS.get(key, ())
    for flag, value in given.items():
        if value is not None and flag not in accepted:
            takes = ", ".join(f"--{f}" for f in accepted) or "none of them"
            raise ValueError(f"--{flag}: model {model!r} does not take it (it takes {takes})")
    for flag, value in (("depth", depth), ("width", width)):
        if value is not None and value < 1:
            raise ValueError(f"--{flag} must be >= 1, got {value}")
    options: dict[str, Any] = {}
    if "activation" in accepted:
        options["activation"] = activation or DEFAULT_ACTIVATION
        try:
            make_activation(options["activation"])
        except ValueError as exc:
            raise ValueError(f"--activation: {exc}") from None
    if key == "deep-mlp":
        options["depth"], options["width"] = depth or DEFAULT_DEPTH, width or DEFAULT_WIDTH
    if key == "mlp":
        options["hidden"] = parse_sizes(DEFAULT_HIDDEN if hidden is None else hidden)
    return options


def _check_plot(plot: Path | None) -> None:
    if plot is None:
        return
    if plot.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"--plot: {str(plot)!r} must end in {', '.join(PLOT_SUFFIXES)}")
    if not plot.parent.is_dir():
        raise ValueError(f"--plot: directory {str(plot.parent)!r} does not exist")


def doctor(
    dataset: Annotated[str, typer.Option(help="Built-in dataset, csv:PATH:TARGET or PATH.npz.")] = "seed-binary",
    model: Annotated[str, typer.Option(help="mlp, deep-mlp, cnn1d, or a factory package.module:function.")] = "deep-mlp",
    init: Annotated[str, typer.Option(help="Weight init scheme, NAME[:key=value,...], e.g. gaussian:std=0.01 or lsuv.")] = "he_normal",
    depth: Annotated[int | None, typer.Option(help=f"Hidden layers of deep-mlp (default {DEFAULT_DEPTH}).")] = None,
    width: Annotated[int | None, typer.Option(help=f"Width of deep-mlp's hidden layers (default {DEFAULT_WIDTH}).")] = None,
    hidden: Annotated[str | None, typer.Option(help=f"Hidden sizes of mlp, comma-separated (default {DEFAULT_HIDDEN}).")] = None,
    activation: Annotated[str | None, typer.Option(help=f"Hidden activation of the built-ins (default {DEFAULT_ACTIVATION}).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Training examples in the probe batch.")] = 256,
    loss: Annotated[str | None, typer.Option(help="Loss for the backward pass; default follows the dataset.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Also draw activation/gradient std against depth for several schemes (.png, .svg, .pdf).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the init draw and the probe batch.")] = 0,
) -> None:
    """Print the per-layer table, the verdict (healthy, vanishing, exploding, dead, symmetric) and what to change."""
    from initopt.cli.options import parse_scheme

    if batch_size < 2:
        raise ValueError(f"--batch-size must be >= 2 (a std needs two examples), got {batch_size}")
    _check_plot(plot)
    options = _model_options(model, depth, width, hidden, activation)
    scheme_spec = parse_scheme(init)

    import torch
    from rich.console import Console

    from initopt import data as datasets
    from initopt import init as inits
    from initopt.doctor import diagnose
    from initopt.models import build_model
    from initopt.training.objective import ObjectiveError, check_objective

    try:
        scheme = inits.get(scheme_spec)
    except ValueError as exc:
        raise ValueError(f"--init: {exc}") from None
    try:
        train = datasets.load(dataset).train
    except (ValueError, OSError) as exc:
        raise ValueError(f"--dataset: {exc}") from None
    info = train.info
    loss_name = loss or info.default_loss

    def build() -> torch.nn.Module:
        try:
            return build_model(model, n_features=info.n_features, out=info.output_dim,
                               input_shape=tuple(info.input_shape), dataset=info, **options)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"--model: {exc}") from None

    index = torch.randperm(len(train.x), generator=torch.Generator().manual_seed(seed))[:batch_size]
    x, y = train.x[index], train.y[index]
    net = build()
    try:
        with torch.no_grad():
            output = net(x[:2])
    except Exception as exc:  # a model that cannot take this dataset's inputs
        raise ValueError(f"--model: {model!r} fails on {info.name} inputs of shape {tuple(x.shape[1:])}: {exc}") from None
    try:
        loss_name, _ = check_objective(loss_name, info.default_metric, info.task, output, y[:2])
    except ObjectiveError as exc:
        raise ValueError(f"--{exc.field}: {exc}") from None
    if plot is not None:
        _check_writable(plot)
    inits.initialize_with_data(net, scheme, "zeros", data=train.x, seed=seed)
    diagnosis = diagnose(net, x, y, loss_name, seed=seed)

    console = Console(highlight=False, width=None if sys.stdout.isatty() else WIDE_TABLE)  # a pipe or log would wrap at 80
    console.print(diagnosis)
    print(f"verdict: {diagnosis.verdict}")
    for line in diagnosis.suggestions:
        print(f"suggestion: {line}")
    if plot is not None:
        _plot(build, x, y, loss_name, scheme.spec(), train.x, seed, plot, title=_title(model, options, info.name, len(x)))


def _check_writable(path: Path) -> None:
    """Fail before the work, not after it: ``--plot`` must name a file that can be written."""
    import os

    folder = path.parent if str(path.parent) else Path(".")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"--plot: cannot write {path}")


def _title(model: str, options: dict[str, Any], dataset: str, batch: int) -> str:
    if model.strip().lower().replace("_", "-") == "deep-mlp":
        from initopt.models import make_activation

        activation = type(make_activation(options["activation"])).__name__  # "relu" -> "ReLU"
        name = f"{options['depth']}-layer {activation} MLP (width {options['width']})"
    else:
        name = model
    return f"{name} at initialization: {dataset}, batch of {batch}, computed in float64"


def _plot(build, x, y, loss: str, spec: dict[str, Any], data, seed: int, path: Path, *, title: str) -> None:  # type: ignore[no-untyped-def]
    from initopt import init as inits
    from initopt.doctor.plot import DEFAULT_SCHEMES, depth_profiles, render_depth_plot

    schemes = [inits.get(s).spec() for s in DEFAULT_SCHEMES]
    if spec not in schemes:
        schemes.append(spec)
    profiles = depth_profiles(build, x, y, loss, schemes=schemes, data=data, seed=seed)
    try:
        render_depth_plot(profiles, path, title=title)
    except OSError as exc:
        raise ValueError(f"--plot {path}: {exc.strerror or exc}") from None
    print(f"wrote {path}: activation and gradient std against depth for {len(profiles)} schemes")
    for profile in profiles:
        print(f"  {profile.scheme}: {profile.verdict}")
