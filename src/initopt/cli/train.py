"""``initopt train``: one model, one initialization, one optimizer, Keras-style output.

With no arguments it runs the example of the texts: MLP 100 -> 64 ReLU -> 1 (sigmoid folded into the
loss), He initialization, AdamW (lr 1e-3, weight decay 1e-5), binary cross-entropy, 10 epochs, batch
32, on ``seed-binary``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from initopt.optim.schedules import Schedule

#: ``initopt.optim.names()``, spelled out so that the help does not import torch (a test keeps them equal)
OPTIMIZERS = ("adafactor", "adam", "adamw", "lion", "muon", "schedule_free_adamw", "sgd")
#: the optimizers ``--momentum`` applies to
MOMENTUM_OPTIMIZERS = ("sgd", "muon")


def train(
    dataset: Annotated[str, typer.Option(help="Built-in dataset, csv:PATH:TARGET, PATH.npz, text:PATH or ratings:PATH.")] = "seed-binary",
    data_option: Annotated[list[str] | None, typer.Option("--data-option", help="A dataset option KEY=VALUE, e.g. p=113 (repeatable; see docs/data.md).")] = None,
    model: Annotated[str, typer.Option(help="Model: mlp, deep-mlp, cnn1d, cnn2d, transformer, mf, or your own package.module:function (imported from the working directory).")] = "mlp",
    model_option: Annotated[list[str] | None, typer.Option("--model-option", help="A model option KEY=VALUE as a spec's [workload] gives it, e.g. channels=16,32, or your factory's own (repeatable; see docs/models.md).")] = None,
    hidden: Annotated[str | None, typer.Option(help="Hidden layer sizes, comma-separated ('' for none); mlp's default 64.")] = None,
    activation: Annotated[str | None, typer.Option(help="Hidden activation: relu, tanh, gelu, ...; mlp's default relu.")] = None,
    init: Annotated[str, typer.Option(help="Weight init scheme, NAME[:key=value,...], e.g. gaussian:std=0.01.")] = "he_normal",
    optimizer: Annotated[str, typer.Option(help=f"Optimizer: {', '.join(OPTIMIZERS)} (see docs/optim.md); muon trains the hidden matrices with Muon and the rest with AdamW.")] = "adamw",
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 1e-3,
    weight_decay: Annotated[float, typer.Option("--weight-decay", help="Weight decay (L2 for sgd and adam, decoupled for the others), on weights: biases and norms take none.")] = 1e-5,
    momentum: Annotated[float | None, typer.Option(help="Momentum, in [0, 1): sgd (default 0) and muon (default 0.95) only.")] = None,
    schedule: Annotated[str | None, typer.Option(help="Learning-rate schedule over all the steps: constant, warmup-cosine, wsd, wsd-1sqrt or step, NAME[:key=value,...] for more settings, e.g. step:gamma=0.5 (see docs/optim.md). Default: none (the lr stays --lr).")] = None,
    warmup: Annotated[float | None, typer.Option(help="Warmup as a fraction of all the steps, in [0, 1) (warmup-cosine, wsd, wsd-1sqrt; default 0.05).")] = None,
    decay_fraction: Annotated[float | None, typer.Option("--decay-fraction", help="The last fraction of the steps that cools down, in [0, 1] (wsd, wsd-1sqrt; default 0.2).")] = None,
    epochs: Annotated[int, typer.Option(help="Epochs to train.")] = 10,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Examples per step.")] = 32,
    seed: Annotated[int, typer.Option(help="Seed for the init draw and the data order.")] = 0,
    loss: Annotated[str | None, typer.Option(help="Loss; default follows the dataset (bce for binary tasks).")] = None,
    validation: Annotated[str, typer.Option(help="Validation data held out of the training rows: a fraction (0.2), 0 for none, a CSV file with the training file's columns, or npz (the .npz dataset's x_val, y_val).")] = "0.2",
    verbose: Annotated[int, typer.Option(help="0 silent, 1 progress bar and a line per epoch, 2 a line per epoch.")] = 1,
    threads: Annotated[str | None, typer.Option(help="CPU threads for torch: a number, or auto (the cores other programs leave free; the default unless OMP_NUM_THREADS is set).")] = None,
) -> None:
    """Train one model and print a Keras-style line per epoch, then the test result."""
    if epochs < 0:
        raise ValueError(f"--epochs must be >= 0, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    if not lr >= 0:
        raise ValueError(f"--lr must be >= 0, got {lr}")
    if not weight_decay >= 0:
        raise ValueError(f"--weight-decay must be >= 0, got {weight_decay}")
    if momentum is not None and not 0 <= momentum < 1:
        raise ValueError(f"--momentum must be in [0, 1), got {momentum}")
    optimizer_flags = _optimizer_flags(optimizer, momentum)
    if verbose not in (0, 1, 2):
        raise ValueError(f"--verbose must be 0, 1 or 2, got {verbose}")
    lr_schedule = _schedule(schedule, warmup, decay_fraction)
    from initopt.cli.options import parse_assignments, parse_scheme

    model_options, given_as = _model_options(model, model_option or [], hidden, activation)
    scheme_spec = parse_scheme(init)
    data_options = parse_assignments(data_option or [], "--data-option")

    from initopt.threads import apply, default_setting, parse_threads

    thread_setting = parse_threads(threads) if threads is not None else default_setting()
    import torch

    apply(thread_setting)
    from initopt import init as inits
    from initopt import optim
    from initopt.models import describe_mlp
    from initopt.training import fit
    from initopt.workloads import WorkloadError, set_up

    scheme = inits.get(scheme_spec)
    from initopt.data.validation import parse_validation

    try:
        held_out = parse_validation(validation)
    except ValueError as exc:
        raise ValueError(f"--validation: {exc}") from None

    def where(field: str) -> str:  # initopt.workloads' field names as this command's flags
        if field.startswith("option."):
            return given_as.get(field[len("option."):], f"--model-option {field[len('option.'):]}")
        if field.startswith("data."):
            return f"--data-option {field[len('data.'):]}"
        return f"--{field}"

    try:
        setup = set_up(dataset, model, data_options=data_options, model_options=model_options, loss=loss,
                       validation=held_out, folder=Path.cwd(), where=where)
    except WorkloadError as exc:
        raise ValueError(str(exc)) from None
    splits, info, net, loss_used, metric = setup.splits, setup.info, setup.probe, setup.loss, setup.metric
    is_mlp = _is_mlp(model)
    inits.initialize(net, weights=scheme, bias="zeros", seed=seed, data=splits.train.x)  # lsuv's batch; others ignore it
    # biases and norm weights without decay, as a study's default train.no_decay and the README's param_groups
    try:  # the other settings are checked above: only the name can be wrong here
        opt = optim.build(optimizer, net, weight_decay=weight_decay, lr=lr, **optimizer_flags)
    except ValueError as exc:
        raise ValueError(f"--optimizer: {exc}") from None
    if verbose:
        settings = ", ".join(f"{k}={v:g}" for k, v in _settings(opt, lr, weight_decay).items())
        described = (describe_mlp(info.n_features, model_options["hidden"], info.output_dim, model_options["activation"])
                     if is_mlp else model.strip())
        scheduled = f" | lr schedule {lr_schedule.label}" if lr_schedule else ""
        print(f"{described} | init {scheme!r} | "
              f"{type(opt).__name__}({settings}){scheduled} | loss {loss_used}")
        inputs = {"tokens": f"sequences of {info.n_features} tokens (vocabulary {info.vocab_size})",
                  "pairs": f"(user, item) pairs of {info.n_users} users x {info.n_items} items"}
        print(f"{info.name}: {info.n_train} train / {info.n_val} validation / {info.n_test} test, "
              f"{inputs.get(info.input_kind, f'{info.n_features} features')}, {info.task}"
              f" | torch {torch.__version__}, {torch.get_num_threads()} thread{'' if torch.get_num_threads() == 1 else 's'}")
    # without a validation split the test split stands in for it (and the output says so)
    history = fit(net, opt, splits.train, loss=loss_used, metrics=(metric,), epochs=epochs, batch_size=batch_size,
                  validation=splits.test if splits.val is None else splits.val, seed=seed, verbose=verbose,
                  schedule=lr_schedule)
    if verbose:
        if history.diverged:
            print(f"Diverged at epoch {history.diverged_epoch}: try a smaller --lr or another --init.")
        elif history.epochs:
            from initopt.training import evaluate

            if splits.val is not None:
                print(f"Validation: loss {history.last('val_loss'):.4f} - {metric} {history.last('val_' + metric):.4f}")
            test = evaluate(net, splits.test, loss=loss_used, metrics=(metric,))
            note = "" if splits.val is not None else " (no validation split: the val_ columns above are the test split)"
            print(f"Test: loss {test['loss']:.4f} - {metric} {test[metric]:.4f} ({history.seconds:.1f}s){note}")
    if history.diverged:
        raise typer.Exit(1)


def _optimizer_flags(name: str, momentum: float | None) -> dict[str, float]:
    """The optimizer-specific flags given, as keyword arguments; a flag a known optimizer does not take
    is a ``ValueError`` naming it (``--momentum``: sgd and muon). An unknown name is left to ``build``."""
    if momentum is None:
        return {}
    key = name.strip().lower().replace("-", "_")
    if key in OPTIMIZERS and key not in MOMENTUM_OPTIMIZERS:
        raise ValueError(f"--momentum: applies to {' and '.join(MOMENTUM_OPTIMIZERS)} only, not --optimizer {name!r}")
    return {"momentum": momentum}


def _settings(opt: Any, lr: float, weight_decay: float) -> dict[str, float]:
    """What the header shows: ``--lr``, ``--weight-decay`` (the decayed groups') and, where ``opt`` has
    one, its momentum (the optimizer's default when ``--momentum`` is not given)."""
    momentum = {"momentum": opt.defaults["momentum"]} if "momentum" in opt.defaults else {}
    return {"lr": lr, "weight_decay": weight_decay, **momentum}


def _schedule(text: str | None, warmup: float | None, decay_fraction: float | None) -> Schedule | None:
    """The ``Schedule`` that ``--schedule``, ``--warmup`` and ``--decay-fraction`` give, or None; a bad
    one is a ``ValueError`` naming the flag it came from."""
    from initopt.optim.schedules import ScheduleError, parse_schedule

    flags = {"warmup_fraction": ("--warmup", warmup), "decay_fraction": ("--decay-fraction", decay_fraction)}
    if text is None:
        for flag, value in flags.values():
            if value is not None:
                raise ValueError(f"{flag}: applies to a --schedule (warmup-cosine, wsd or wsd-1sqrt), and none is given")
        return None
    try:
        return parse_schedule(text, **{field: value for field, (_, value) in flags.items() if value is not None})
    except ScheduleError as exc:
        flag, value = flags.get(exc.field, ("--schedule", None))
        raise ValueError(f"{flag if value is not None else '--schedule'}: {exc}") from None


def _is_mlp(model: str) -> bool:
    return model.strip().lower() == "mlp"


def _model_options(model: str, items: list[str], hidden: str | None, activation: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """``(options, given_as)``: the model's options as a spec's ``[workload]`` would hold them, and the
    flag each came from (for errors). ``--hidden`` and ``--activation`` are ``--model-option hidden=``
    and ``activation=``; the built-ins' shared options are checked and put in form as a spec's are
    (``hidden=48`` is ``[48]``), a factory's reach it as given. ``mlp`` defaults to 64 ReLU units."""
    from initopt.cli.options import parse_assignments, parse_option_value, parse_sizes
    from initopt.models.options import ModelOptionError, is_factory, shared_options

    options = parse_assignments(items, "--model-option", lists=True)
    given_as = {key: f"--model-option {key}" for key in options}
    for key, text in (("hidden", hidden), ("activation", activation)):
        if text is None:
            continue
        if key in options:
            raise ValueError(f"--{key}: also given as --model-option {key}; give it once")
        if key == "activation":
            options[key] = text.strip()
        else:  # a built-in's sizes, with their own errors ("--hidden: 'x' is not a whole number")
            options[key] = parse_option_value(text) if is_factory(model) else parse_sizes(text)
        given_as[key] = f"--{key}"
    if is_factory(model):
        return options, given_as
    if _is_mlp(model):  # the example of the texts: MLP 100 -> 64 ReLU -> 1
        options.setdefault("hidden", [64])
        options.setdefault("activation", "relu")
    try:
        return shared_options(options), given_as
    except ModelOptionError as exc:
        raise ValueError(f"{given_as.get(exc.option, f'--model-option {exc.option}')}: {exc}") from None
