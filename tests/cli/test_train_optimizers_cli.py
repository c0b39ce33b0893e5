"""``initopt train --optimizer NAME`` for every name of ``initopt.optim.names()``: two real runs (Lion under a
schedule, Schedule-Free AdamW, which fit switches between train and eval), the rest in-process."""

import re

import pytest
import torch
import typer

import initopt.optim as optim
from initopt.cli.main import app
from initopt.cli.train import OPTIMIZERS, _optimizer_flags, _settings


@pytest.mark.parametrize(
    ("args", "header"),
    [
        (["--optimizer", "lion", "--schedule", "warmup-cosine"], "| Lion(lr=0.001, weight_decay=1e-05) | lr schedule warmup-cosine"),
        (["--optimizer", "schedule_free_adamw"], "| ScheduleFreeAdamW(lr=0.001, weight_decay=1e-05) | loss bce"),
    ],
    ids=["lion-warmup-cosine", "schedule-free"],
)
def test_train_runs_with_the_optimizer_named(cli, args, header):
    result = cli("train", "--epochs", "2", "--verbose", "2", *args)
    assert result.returncode == 0, result.stderr
    assert header in result.stdout.splitlines()[0], result.stdout
    assert len(re.findall(r"^Epoch \d/2 .* - val_accuracy: \d\.\d{4}$", result.stdout, re.M)) == 2
    assert re.search(r"^Test: loss \d\.\d{4} - accuracy \d\.\d{4}", result.stdout, re.M), result.stdout


def test_the_help_lists_every_optimizer():
    assert OPTIMIZERS == tuple(optim.names())
    train = typer.main.get_command(app).commands["train"]
    help_text = next(param.help for param in train.params if param.name == "optimizer")
    assert ", ".join(optim.names()) in help_text


@pytest.mark.parametrize(("name", "momentum", "expected"), [
    ("sgd", None, {}), ("muon", None, {}), ("adamw", None, {}),
    ("SGD", 0.9, {"momentum": 0.9}), ("muon", 0.9, {"momentum": 0.9}),
    ("nosuch", 0.9, {"momentum": 0.9}),  # left to build, which names the valid optimizers
])
def test_momentum_goes_to_sgd_and_muon(name, momentum, expected):
    assert _optimizer_flags(name, momentum) == expected


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if n not in ("sgd", "muon")])
def test_momentum_for_another_optimizer_is_an_error_naming_the_flag(name):
    with pytest.raises(ValueError, match=rf"^--momentum: applies to sgd and muon only, not --optimizer '{name}'$"):
        _optimizer_flags(name, 0.0)


def test_the_header_shows_each_optimizers_own_momentum():
    model = torch.nn.Linear(4, 4)
    assert _settings(optim.build("muon", model), 1e-3, 0.0) == {"lr": 1e-3, "weight_decay": 0.0, "momentum": 0.95}
    assert _settings(optim.build("sgd", model), 1e-3, 0.0)["momentum"] == 0
    assert "momentum" not in _settings(optim.build("lion", model), 1e-3, 0.0)
