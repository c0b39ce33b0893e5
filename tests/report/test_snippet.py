"""The winner as code to paste: the PyTorch snippet, run, trains as the study's optimizer did; the Keras
and TOML snippets say the same settings in their terms; ``initopt study best`` prints them."""

from __future__ import annotations

import math

import pytest
import torch

from initopt.report.snippet import keras_snippet, snippet, toml_snippet
from initopt.study import parse_spec, resolved
from initopt.study.runner import _config_record
from initopt.study.store import ConfigRow, Status
from initopt.study.workload import prepare

OPTIMIZERS = [
    {"name": "adamw", "lr": [3e-3], "weight_decay": [0.05]},
    {"name": "adamw", "lr": [3e-3], "weight_decay": [1e-3], "decay": ["independent"]},
    {"name": "adam", "lr": [1e-3], "weight_decay": [1e-2], "betas": [[0.8, 0.99]], "eps": [1e-6]},
    {"name": "sgd", "lr": [0.05], "momentum": [0.9], "weight_decay": [1e-3], "nesterov": [True]},
]


def _study_config(optimizer: dict, init="he_normal"):
    spec = parse_spec({"name": "snippet", "workload": {"dataset": "breast-cancer", "model": "mlp", "hidden": [64]},
                       "train": {"epochs": 1}, "grid": {"init": [init], "seeds": [3], "optimizer": [optimizer]}})
    workload = prepare(spec)
    (config,) = workload.spec.configs()
    record = _config_record(config)
    row = ConfigRow(record.id, record.init, record.init_params, record.optimizer, record.hyper, record.seed, Status.DONE)
    return workload, config, row


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: "-".join(str(v[0]) if isinstance(v, list) else v for v in o.values()))
def test_the_pytorch_snippet_builds_the_optimizer_the_study_ran(optimizer):
    workload, config, row = _study_config(optimizer)
    namespace: dict = {}
    rule = workload.spec.train.no_decay_rule  # the default: biases and norms without decay
    assert rule == ("bias", "norm")
    exec(compile(snippet(row, "python", rule), "<snippet>", "exec"), namespace)  # noqa: S102 (the code a user pastes)

    studied = workload.initialized_model(config)
    theirs = workload.optimizer(studied, config)  # as the study's engines build it
    pasted = workload.build()
    namespace["init_weights"](pasted)
    pasted.load_state_dict(studied.state_dict())  # the same start, to compare the optimizers alone
    mine = namespace["make_optimizer"](pasted)
    assert type(mine).__module__.startswith("torch.optim")
    _train_alike(workload, (studied, theirs), (pasted, mine))
    assert [len(g["params"]) for g in mine.param_groups] == [len(g["params"]) for g in theirs.param_groups] == [2, 2]
    for group_mine, group_theirs in zip(mine.param_groups, theirs.param_groups):  # the same settings
        for key in ("lr", "betas", "eps", "momentum", "nesterov", "amsgrad"):
            assert group_mine.get(key) == group_theirs.get(key), key
    state_mine, state_theirs = mine.state_dict()["state"], theirs.state_dict()["state"]
    assert state_mine.keys() == state_theirs.keys()
    for index in state_theirs:  # and the same state after 20 steps: moments, momentum buffers, step counts
        assert state_mine[index].keys() == state_theirs[index].keys()
        for key, value in state_theirs[index].items():
            torch.testing.assert_close(torch.as_tensor(state_mine[index][key]).float(), torch.as_tensor(value).float(),
                                       rtol=1e-5, atol=1e-7, msg=f"{index} {key}")


def _train_alike(workload, studied, pasted) -> None:
    """20 steps of the study's model and of the snippet's, each ``(model, optimizer)``, on the same batch:
    their parameters must stay equal."""
    x, y = workload.train.x[:64], workload.train.y[:64]
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(20):
        for model, opt in (studied, pasted):
            opt.zero_grad()
            loss_fn(model(x).squeeze(-1), y.float().view(-1)).backward()
            opt.step()
    for (name, a), b in zip(studied[0].named_parameters(), pasted[0].parameters()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)


def test_the_pytorch_snippet_draws_the_scheme():
    workload, _, row = _study_config(OPTIMIZERS[0])
    namespace: dict = {}
    exec(compile(snippet(row, "python"), "<snippet>", "exec"), namespace)  # noqa: S102
    model = workload.build()
    torch.manual_seed(0)
    namespace["init_weights"](model)
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    fan_in = first.weight.shape[1]
    assert float(first.weight.detach().std()) == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)  # He: 2 / fan_in, not 2 / (fan_in - 1)
    assert float(first.bias.detach().abs().max()) == 0.0


def test_keras_and_toml_say_the_same_settings_in_their_terms():
    _, _, independent = _study_config(OPTIMIZERS[1])
    text = keras_snippet(independent)
    assert "keras.optimizers.AdamW(learning_rate=0.003" in text and f"weight_decay={1e-3 / 3e-3!r}" in text
    assert 'VarianceScaling(scale=2.0, mode="fan_in", distribution="untruncated_normal")' in text
    _, _, adam = _study_config(OPTIMIZERS[2])
    text = keras_snippet(adam)
    assert "keras.optimizers.Adam(" in text and "weight_decay" not in text.split("optimizer = ")[1]
    assert "keras.regularizers.L2(0.005)" in text  # L2 in the gradient, wd * p, is (wd / 2) * p^2 in the loss
    assert "not on biases" in keras_snippet(adam, ("bias", "norm")) and "bias_regularizer" in text
    text = keras_snippet(independent, ("bias", "norm"))
    assert 'optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])' in text
    _, _, gaussian = _study_config(OPTIMIZERS[0], init={"name": "gaussian", "std": 0.01})
    assert "RandomNormal(mean=0.0, stddev=0.01)" in keras_snippet(gaussian)
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    spec = tomllib.loads(toml_snippet(adam, ("bias", "norm")))
    assert spec["train"]["no_decay"] == ["bias", "norm"]
    grid = spec["grid"]
    assert grid["init"] == [{"name": "he_normal", "mode": "fan_in", "nonlinearity": "relu"}]
    assert grid["optimizer"][0]["betas"] == [[0.8, 0.99]] and grid["optimizer"][0]["eps"] == [1e-6]


def test_study_best_prints_the_reports_winner(tiny_db, tiny_report):
    """Through the installed command: the TOML of the report's recommendation; a bad --format is one line, exit 2."""
    import subprocess
    import sys

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    done = subprocess.run([sys.executable, "-m", "initopt", "study", "best", "--db", str(tiny_db), "--format", "toml"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    grid = tomllib.loads(done.stdout)["grid"]
    best = tiny_report.recommendation.best
    assert grid["optimizer"][0]["name"] == best.family and grid["optimizer"][0]["lr"] == [best.lr]

    from typer.testing import CliRunner

    from initopt.cli.study import app

    result = CliRunner().invoke(app, ["best", "--db", str(tiny_db), "--format", "rust"])
    assert isinstance(result.exception, ValueError) and "--format must be one of python, keras, toml" in str(result.exception)


@pytest.mark.parametrize("schedule", ["warmup-cosine", "wsd", "wsd-1sqrt", "step"])
def test_the_snippets_carry_the_studys_schedule(schedule):
    from initopt.optim.schedules import Schedule
    from initopt.report.snippet import lr_multiplier_source, python_snippet

    exact = Schedule(schedule, **({} if schedule == "step" else {"warmup_fraction": 0.1}))
    namespace = {"math": math}
    exec("\n".join(lr_multiplier_source(exact)), namespace)
    for total in (7, 40, 101):
        for t in range(total):
            assert namespace["lr_multiplier"](t, total) == pytest.approx(float(exact.multiplier(t, total)), abs=1e-12)
    _, _, row = _study_config({"name": "adamw", "lr": [3e-3], "schedule": [schedule],
                               **({} if schedule == "step" else {"warmup": [0.1]})})
    text = python_snippet(row)
    assert "def lr_multiplier" in text and "LambdaLR(optimizer" in text and text.startswith("import math")
    keras_text = keras_snippet(row)
    assert "learning_rate=schedule" in keras_text
    assert {"warmup-cosine": "CosineDecay(", "step": "ExponentialDecay("}.get(schedule, "no warmup-stable-decay") in keras_text


@pytest.mark.parametrize("optimizer", [
    {"name": "lion", "lr": [3e-4], "weight_decay": [1.0], "decay": ["independent"]},
    {"name": "muon", "lr": [2e-3], "adjust_lr_fn": ["match_rms_adamw"]},
    {"name": "adafactor", "lr": [2e-2], "weight_decay": [0.1]},
    {"name": "schedule_free_adamw", "lr": [3e-3], "weight_decay": [0.01], "warmup_steps": [5]},
], ids=lambda o: o["name"])
def test_the_pytorch_snippet_of_the_newer_optimizers_trains_as_the_study_did(optimizer):
    workload, config, row = _study_config(optimizer)
    namespace: dict = {}
    exec(compile(snippet(row, "python", workload.spec.train.no_decay_rule), "<snippet>", "exec"), namespace)  # noqa: S102
    studied = workload.initialized_model(config)
    theirs = workload.optimizer(studied, config)
    pasted = workload.build()
    pasted.load_state_dict(studied.state_dict())
    mine = namespace["make_optimizer"](pasted)
    for opt in (theirs, mine):
        if hasattr(opt, "train"):
            opt.train()
    _train_alike(workload, (studied, theirs), (pasted, mine))


def test_keras_gets_lion_where_its_rule_is_the_studys_and_a_note_elsewhere():
    _, _, coupled = _study_config({"name": "lion", "lr": [3e-4], "weight_decay": [1.0]})
    assert "keras.optimizers.Lion(learning_rate=0.0003, beta_1=0.9, beta_2=0.99, weight_decay=1.0)" in keras_snippet(coupled)
    _, _, muon = _study_config({"name": "muon"})
    assert "no Keras optimizer checked" in keras_snippet(muon) and "optimizer = None" in keras_snippet(muon)
