"""``initopt doctor``: diagnose a model's initialization on a batch of a dataset, before training.

With no arguments: a 50-layer, 256-wide ReLU MLP (``deep-mlp``) with He weights on a seeded batch
of 256 ``seed-binary`` training examples, backward from the dataset's loss. Prints the per-layer
table, the verdict and one suggestion per problem. ``--plot depth.png`` also draws activation and
gradient std against depth for zeros, N(0, 1), N(0, 0.01^2), xavier_normal and he_normal (plus
``--init`` if it is none of them) on the same model. ``--spec study.toml`` takes the workload
(dataset, its options, model, model options, loss) from a study spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

DEFAULT_DATASET, DEFAULT_MODEL = "seed-binary", "deep-mlp"
DEFAULT_DEPTH, DEFAULT_WIDTH, DEFAULT_HIDDEN, DEFAULT_ACTIVATION = 50, 256, "64", "relu"
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
#: The model options each built-in takes from the command line (the others: through --spec).
_MODEL_OPTIONS = {"mlp": ("hidden", "activation"), "deep-mlp": ("depth", "width", "activation"), "cnn1d": ("activation",),
                  "cnn2d": ("depth", "activation")}


@dataclass(frozen=True)
class _Workload:
    """What the doctor builds and probes; ``where(key)`` names the field an error is about."""

    dataset: str
    data: dict[str, Any]
    model: str
    options: dict[str, Any]
    loss: str | None = None
    spec: Path | None = None
    cli_data: frozenset[str] = field(default_factory=frozenset)  # the data options given as --data-option
    folder: Path | None = None  # the spec's folder, which its relative paths are read against

    def where(self, key: str) -> str:
        """The field an error is about, as the user wrote it; ``key``: ``dataset``, ``model``, a model
        option, or ``data.OPTION`` (``data``: the options as a whole)."""
        if key == "data" or key.startswith("data."):
            option = key.partition(".")[2]
            if self.spec is None or option in self.cli_data:
                return f"--data-option {option}".rstrip()
        if self.spec is not None:
            return f"--spec {self.spec}: workload.{key}"
        return "--dataset" if key == "dataset" else "--model"


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
    elif depth is not None:
        options["depth"] = depth
    if key == "mlp":
        options["hidden"] = parse_sizes(DEFAULT_HIDDEN if hidden is None else hidden)
    return options


def _workload(spec: Path | None, dataset: str | None, model: str | None, data_options: dict[str, Any],
              flags: dict[str, Any]) -> _Workload:
    """The workload from ``--spec`` (with ``--data-option`` on top), else from the command line."""
    if spec is None:
        model = model or DEFAULT_MODEL
        return _Workload(dataset or DEFAULT_DATASET, data_options, model, _model_options(model, **flags),
                         cli_data=frozenset(data_options))
    given = [name for name, value in (("dataset", dataset), ("model", model), *flags.items()) if value is not None]
    if given:
        raise ValueError(f"--{given[0]}: --spec {spec} names the workload; leave --{given[0]} out "
                         "(--data-option changes one of its dataset options)")
    from initopt.study.spec import SpecError, load_spec

    try:
        parsed = load_spec(spec)
    except SpecError as exc:
        raise ValueError(f"--spec {exc}") from None
    workload = parsed.workload
    return _Workload(workload.dataset, {**workload.data, **data_options}, workload.model, dict(workload.options),
                     parsed.train.loss, spec, frozenset(data_options), workload.folder)


def _check_plot(plot: Path | None) -> None:
    if plot is None:
        return
    if plot.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"--plot: {str(plot)!r} must end in {', '.join(PLOT_SUFFIXES)}")
    if not plot.parent.is_dir():
        raise ValueError(f"--plot: directory {str(plot.parent)!r} does not exist")


def doctor(
    dataset: Annotated[str | None, typer.Option(help=f"Built-in dataset, csv:PATH:TARGET, PATH.npz, text:PATH or ratings:PATH (default {DEFAULT_DATASET}).")] = None,
    data_option: Annotated[list[str] | None, typer.Option("--data-option", help="A dataset option KEY=VALUE, e.g. p=113 (repeatable; see docs/data.md).")] = None,
    spec: Annotated[Path | None, typer.Option(help="Take the workload (dataset, data options, model, model options, loss) from this study spec.")] = None,
    model: Annotated[str | None, typer.Option(help=f"mlp, deep-mlp, cnn1d, cnn2d, transformer, mf, or a factory package.module:function (default {DEFAULT_MODEL}).")] = None,
    init: Annotated[str, typer.Option(help="Weight init scheme, NAME[:key=value,...], e.g. gaussian:std=0.01, gpt2 or lsuv.")] = "he_normal",
    depth: Annotated[int | None, typer.Option(help=f"Hidden layers of deep-mlp (default {DEFAULT_DEPTH}), blocks of cnn2d.")] = None,
    width: Annotated[int | None, typer.Option(help=f"Width of deep-mlp's hidden layers (default {DEFAULT_WIDTH}).")] = None,
    hidden: Annotated[str | None, typer.Option(help=f"Hidden sizes of mlp, comma-separated (default {DEFAULT_HIDDEN}).")] = None,
    activation: Annotated[str | None, typer.Option(help=f"Hidden activation of the built-ins (default {DEFAULT_ACTIVATION}).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Training examples in the probe batch.")] = 256,
    loss: Annotated[str | None, typer.Option(help="Loss for the backward pass; default: the spec's, else the dataset's.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Also draw activation/gradient std against depth for several schemes (.png, .svg, .pdf).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the init draw and the probe batch.")] = 0,
    coord_check: Annotated[bool, typer.Option("--coord-check", help="Instead of the table at initialization: each layer's output size over the first training steps at several widths, under SP and muP; names the layers whose coordinates grow or shrink with width.")] = False,
    widths: Annotated[str, typer.Option(help="With --coord-check: the widths, comma-separated.")] = "64,256,1024",
    base_width: Annotated[int | None, typer.Option("--base-width", help="With --coord-check: muP's base width (default: the first width).")] = None,
    lr: Annotated[float, typer.Option(help="With --coord-check: AdamW's learning rate for the steps.")] = 1e-2,
    steps: Annotated[int, typer.Option(help="With --coord-check: training steps measured.")] = 4,
) -> None:
    """Print the per-layer table, the verdict (healthy, vanishing, exploding, dead, symmetric) and what to change."""
    from initopt.cli.options import parse_assignments, parse_scheme

    if batch_size < 2:
        raise ValueError(f"--batch-size must be >= 2 (a std needs two examples), got {batch_size}")
    _check_plot(plot)
    flags = {"depth": depth, "width": width, "hidden": hidden, "activation": activation}
    work = _workload(spec, dataset, model, parse_assignments(data_option or [], "--data-option"), flags)
    scheme_spec = parse_scheme(init)

    import torch

    from initopt import init as inits
    from initopt._terminal import console
    from initopt.doctor import diagnose
    from initopt.workloads import WorkloadError, set_up

    try:
        scheme = inits.get(scheme_spec)
    except ValueError as exc:
        raise ValueError(f"--init: {exc}") from None

    def where(name: str) -> str:  # initopt.workloads' field names as the doctor's flags or its spec's fields
        if name in ("loss", "metric"):
            from_spec = work.spec is not None and loss is None and work.loss is not None
            return f"{f'--spec {work.spec}: train.' if from_spec else '--'}{name}"
        return work.where(name[len("option."):] if name.startswith("option.") else name)

    try:
        setup = set_up(work.dataset, work.model, data_options=work.data, model_options=work.options,
                       loss=loss or work.loss, folder=work.folder or Path.cwd(), where=where)
    except WorkloadError as exc:
        raise ValueError(str(exc)) from None
    train, info, loss_used, options = setup.splits.train, setup.info, setup.loss, setup.options
    build = setup.build

    index = torch.randperm(len(train.x), generator=torch.Generator().manual_seed(seed))[:batch_size]
    x, y = train.x[index], train.y[index]  # token and id inputs stay int64
    net = setup.probe  # built and tried on two training examples (no init drawn yet)
    if coord_check:
        _coord_check(setup, work.model, x, y, scheme, widths, base_width, lr, steps, seed)
        return
    if plot is not None:
        _check_writable(plot)
    inits.initialize(net, scheme, "zeros", data=train.x, seed=seed)
    diagnosis = diagnose(net, x, y, loss_used, seed=seed)

    console().print(diagnosis, highlight=False)
    print(f"verdict: {diagnosis.verdict}")
    for line in diagnosis.suggestions:
        print(f"suggestion: {line}")
    if plot is not None:
        title = _title(work.model, options, info.name, len(x))
        _plot(build, x, y, loss_used, scheme.spec(), train.x, seed, plot, title=title)


def _coord_check(setup, model: str, x, y, scheme, widths: str, base_width: int | None, lr: float, steps: int,
                 seed: int) -> None:
    from dataclasses import replace

    from initopt._terminal import console
    from initopt.cli.options import parse_sizes
    from initopt.doctor.coord_check import coord_check, render, summary
    from initopt.models.width import with_width
    from initopt.training.losses import get_loss

    try:
        sizes = parse_sizes(widths)
    except ValueError as exc:
        raise ValueError(f"--widths: {exc}") from None
    if len(sizes) < 2:
        raise ValueError(f"--widths: the coordinate check needs two widths or more, got {widths!r}")
    if steps < 1:
        raise ValueError(f"--steps must be >= 1, got {steps}")
    if not lr > 0:
        raise ValueError(f"--lr must be > 0, got {lr:g}")
    if base_width is not None and base_width < 1:
        raise ValueError(f"--base-width must be >= 1, got {base_width}")
    try:
        with_width(model, setup.options, sizes[0])
    except ValueError as exc:
        raise ValueError(f"--model: {exc}") from None
    if scheme.spec().get("name") == "lsuv":
        raise ValueError("--init lsuv: the coordinate check draws each width's init without data; choose a scheme")

    def build(width: int):
        return replace(setup, options=with_width(model, setup.options, width)).build()

    loss = get_loss(setup.loss)
    checks = [coord_check(build, sizes, x, y, loss, parametrization=p, base_width=base_width or sizes[0],
                          scheme=scheme, lr=lr, steps=steps, seed=seed) for p in ("sp", "mup")]
    out = console()
    out.print(render(checks), highlight=False)
    for check in checks:
        print(summary(check))


def _check_writable(path: Path) -> None:
    """Fail before the work, not after it: ``--plot`` must name a file that can be written."""
    import os

    folder = path.parent if str(path.parent) else Path(".")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"--plot: cannot write {path}")


def _title(model: str, options: dict[str, Any], dataset: str, batch: int) -> str:
    if model.strip().lower().replace("_", "-") == "deep-mlp" and {"activation", "depth", "width"} <= set(options):
        from initopt.models import make_activation

        activation = type(make_activation(options["activation"])).__name__  # "relu" -> "ReLU"
        name = f"{options['depth']}-layer {activation} MLP (width {options['width']})"
    else:
        name = model
    return f"{name} at initialization: {dataset}, batch of {batch}, computed in float64"


def _plot(build, x, y, loss: str, spec: dict[str, Any], data, seed: int, path: Path, *, title: str) -> None:  # type: ignore[no-untyped-def]
    from initopt import init as inits
    from initopt._terminal import Progress
    from initopt.doctor.plot import DEFAULT_SCHEMES, depth_profiles, render_depth_plot

    schemes = [inits.get(s).spec() for s in DEFAULT_SCHEMES]
    if spec not in schemes:
        schemes.append(spec)
    with Progress("doctor", "schemes") as bar:
        bar.start(len(schemes))
        profiles = depth_profiles(build, x, y, loss, schemes=schemes, data=data, seed=seed,
                                  progress=lambda done, label: bar.update(done - bar.done, detail=label))
        bar.update(len(schemes) - bar.done, detail=f"drawing {path}")
        try:
            render_depth_plot(profiles, path, title=title)
        except OSError as exc:
            raise ValueError(f"--plot {path}: {exc.strerror or exc}") from None
    print(f"wrote {path}: activation and gradient std against depth for {len(profiles)} schemes")
    for profile in profiles:
        print(f"  {profile.scheme}: {profile.verdict}")
