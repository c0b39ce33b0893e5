"""``initopt train``: one model, one initialization, one optimizer, Keras-style output.

With no arguments it runs the example of the texts: MLP 100 -> 64 ReLU -> 1 (sigmoid folded into the
loss), He initialization, AdamW (lr 1e-3, weight decay 1e-5), binary cross-entropy, 10 epochs, batch
32, on ``seed-binary``.
"""

from __future__ import annotations

from typing import Annotated

import typer


def train(
    dataset: Annotated[str, typer.Option(help="Built-in dataset, csv:PATH:TARGET, PATH.npz, text:PATH or ratings:PATH.")] = "seed-binary",
    data_option: Annotated[list[str] | None, typer.Option("--data-option", help="A dataset option KEY=VALUE, e.g. p=113 (repeatable; see docs/data.md).")] = None,
    model: Annotated[str, typer.Option(help="Model: mlp, cnn2d, transformer, mf, ... (--hidden and --activation are the mlp's).")] = "mlp",
    hidden: Annotated[str, typer.Option(help="Hidden layer sizes, comma-separated ('' for none).")] = "64",
    activation: Annotated[str, typer.Option(help="Hidden activation: relu, tanh, gelu, ...")] = "relu",
    init: Annotated[str, typer.Option(help="Weight init scheme, NAME[:key=value,...], e.g. gaussian:std=0.01.")] = "he_normal",
    optimizer: Annotated[str, typer.Option(help="sgd, adam or adamw.")] = "adamw",
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 1e-3,
    weight_decay: Annotated[float, typer.Option("--weight-decay", help="Weight decay (decoupled for AdamW, L2 for SGD/Adam).")] = 1e-5,
    momentum: Annotated[float, typer.Option(help="Momentum (SGD only).")] = 0.0,
    epochs: Annotated[int, typer.Option(help="Epochs to train.")] = 10,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Examples per step.")] = 32,
    seed: Annotated[int, typer.Option(help="Seed for the init draw and the data order.")] = 0,
    loss: Annotated[str | None, typer.Option(help="Loss; default follows the dataset (bce for binary tasks).")] = None,
    verbose: Annotated[int, typer.Option(help="0 silent, 1 progress bar and a line per epoch, 2 a line per epoch.")] = 1,
) -> None:
    """Train one model and print a Keras-style line per epoch, then the test result."""
    if epochs < 0:
        raise ValueError(f"--epochs must be >= 0, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    if not 0 <= momentum < 1:
        raise ValueError(f"--momentum must be in [0, 1), got {momentum}")
    if verbose not in (0, 1, 2):
        raise ValueError(f"--verbose must be 0, 1 or 2, got {verbose}")
    from initopt.cli.options import parse_assignments, parse_scheme, parse_sizes

    sizes = parse_sizes(hidden)
    scheme_spec = parse_scheme(init)
    data_options = parse_assignments(data_option or [], "--data-option")

    import torch

    from initopt import data as datasets
    from initopt import init as inits
    from initopt import optim
    from initopt.models import build_model, describe_mlp
    from initopt.training import fit
    from initopt.training.losses import PROBABILITY_LOSSES, loss_name
    from initopt.training.objective import ObjectiveError, check_objective

    scheme = inits.get(scheme_spec)
    try:
        splits = datasets.load(dataset, **data_options)
    except datasets.OptionError as exc:
        raise ValueError(f"--data-option {exc.option}: {exc}") from None
    info = splits.info
    loss_used = loss or info.default_loss
    is_mlp = model.strip().lower() == "mlp"
    model_options = {"hidden": sizes, "activation": activation} if is_mlp else {}
    net = build_model(model, n_features=info.n_features, out=info.output_dim, input_shape=tuple(info.input_shape),
                      dataset=info, probabilities=loss_name(loss_used) in PROBABILITY_LOSSES, **model_options)
    try:
        with torch.no_grad():
            loss_used, metric = check_objective(loss_used, info.default_metric, info.task, net(splits.train.x[:2]), splits.train.y[:2])
    except ObjectiveError as exc:
        raise ValueError(f"--{exc.field}: {exc}") from None
    inits.initialize(net, weights=scheme, bias="zeros", seed=seed)
    hyper = {"lr": lr, "weight_decay": weight_decay}
    if optimizer.strip().lower() == "sgd":
        hyper["momentum"] = momentum
    elif momentum:
        raise ValueError(f"--momentum applies to sgd only, not {optimizer!r}")
    opt = optim.get(optimizer, net.parameters(), **hyper)
    if verbose:
        settings = ", ".join(f"{k}={v:g}" for k, v in hyper.items())
        described = describe_mlp(info.n_features, sizes, info.output_dim, activation) if is_mlp else model.strip()
        print(f"{described} | init {scheme!r} | "
              f"{type(opt).__name__}({settings}) | loss {loss_used}")
        inputs = {"tokens": f"sequences of {info.n_features} tokens (vocabulary {info.vocab_size})",
                  "pairs": f"(user, item) pairs of {info.n_users} users x {info.n_items} items"}
        print(f"{info.name}: {info.n_train} train / {info.n_test} test, "
              f"{inputs.get(info.input_kind, f'{info.n_features} features')}, {info.task}"
              f" | torch {torch.__version__}, {torch.get_num_threads()} threads")
    history = fit(net, opt, splits.train, loss=loss_used, metrics=(metric,), epochs=epochs,
                  batch_size=batch_size, validation=splits.test, seed=seed, verbose=verbose)
    if verbose:
        if history.diverged:
            print(f"Diverged at epoch {history.diverged_epoch}: try a smaller --lr or another --init.")
        elif history.epochs:
            print(f"Test: loss {history.last('val_loss'):.4f} - {metric} {history.last('val_' + metric):.4f} "
                  f"({history.seconds:.1f}s)")
    if history.diverged:
        raise typer.Exit(1)
