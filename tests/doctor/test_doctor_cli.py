"""``initopt doctor`` through real subprocesses, as a user runs it; the input checks in process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from initopt.cli.doctor import doctor


SMALL = ("--depth", "30", "--width", "64", "--batch-size", "128")


def test_healthy_he_model_prints_the_table_and_the_verdict(cli, tmp_path):
    result = cli("doctor", *SMALL, columns=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "init doctor: healthy (31 layers, batch 128" in out and "backward: loss bce" in out
    assert re.search(r"^\s+1 0 Linear 100->64, ReLU\s+128x64 ", out, re.M), out
    assert re.search(r"^\s+31 60 Linear 64->1\s+128x1 ", out, re.M)
    assert out.rstrip().endswith("verdict: healthy") and "suggestion:" not in out
    assert max(map(len, out.splitlines())) <= 120


def test_at_80_columns_the_table_keeps_the_evidence_and_cuts_nothing(cli):
    """The index, shape and the other reference columns go; each layer stays whole on its line."""
    out = cli("doctor", *SMALL).stdout
    header = next(line for line in out.splitlines() if line.split()[:1] == ["layer"]).split()
    assert {"act", "std", "w", "He", "grad", "out", "verdict"} <= set(header) and "shape" not in header, out
    assert re.search(r"^\s*0 Linear 100->64, ReLU\s+\S", out, re.M), out
    assert max(map(len, out.splitlines())) <= 80 and "…" not in out


def test_vanishing_model_gets_a_concrete_suggestion(capsys):
    # in process (the subprocess path is the test above): the same command function the app runs
    doctor(init="gaussian:std=0.01", depth=30, width=64, batch_size=128)
    out = capsys.readouterr().out
    assert "verdict: vanishing" in out
    assert re.search(
        r"^suggestion: layer 2 \(Linear 64->64, ReLU\): activation std \S+ after 2 layers \(x0\.\d+ per layer\); "
        r"weight std 0\.010 is 18x below He \(0\.177\); use he_normal$",
        out, re.M,
    ), out


def test_plot_draws_every_default_scheme_and_the_chosen_one(cli, tmp_path):
    result = cli("doctor", "--depth", "30", "--width", "32", "--batch-size", "32", "--init", "lsuv", "--plot", "depth.png")
    assert result.returncode == 0, result.stderr
    png = (tmp_path / "depth.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out = result.stdout
    assert "verdict: healthy" in out  # the LSUV-initialized model of the table
    assert "wrote depth.png: activation and gradient std against depth for 6 schemes" in out
    for line in ("  zeros: symmetric", "  gaussian std 1: exploding", "  gaussian std 0.01: vanishing",
                 "  xavier_normal: vanishing", "  he_normal: healthy", "  lsuv: healthy"):
        assert line in out.splitlines(), out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--init", "he_norml"], "--init: unknown init scheme 'he_norml'; did you mean 'he_normal'?"),
        (["--plot", "depth.txt"], "--plot: 'depth.txt' must end in .png, .svg, .pdf"),
        (["--dataset", "digits", "--depth", "3", "--loss", "mse"], "--loss: 'mse' does not fit this multiclass task"),
        (["--dataset", "digits", "--depth", "3", "--loss", "bce"], "--loss: 'bce' does not fit this multiclass task"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(cli, args, needle):
    result = cli("doctor", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("initopt: error: ") and needle in lines[0], result.stderr


# -- in process: the same checks, every field --------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset": "seed-binry"}, "--dataset: "),
        ({"batch_size": 1}, "--batch-size must be >= 2"),
        ({"activation": "rleu"}, "--activation: unknown activation 'rleu'; did you mean 'relu'?"),
        ({"model": "resnet"}, "--model: unknown model 'resnet'"),
        ({"model": "no_such_module:factory"}, "--model: model factory 'no_such_module:factory': cannot import"),
        ({"loss": "bcee"}, "--loss: unknown loss 'bcee'"),
        ({"model": "mlp", "hidden": "64,x"}, "--hidden: 'x' is not a whole number"),
        ({"model": "cnn1d", "width": 8}, "--width: model 'cnn1d' does not take it (it takes --activation)"),
        ({"model": "mlp", "depth": 3}, "--depth: model 'mlp' does not take it (it takes --hidden, --activation)"),
        ({"model": "pkg.mod:f", "activation": "tanh"}, "--activation: model 'pkg.mod:f' does not take it (it takes none of them)"),
        ({"depth": 0}, "--depth must be >= 1"),
        ({"init": "gaussian:sdt=1"}, "--init: unknown parameter 'sdt' for init scheme 'normal'"),
        ({"init": "lsuv:tol=0"}, "--init: init scheme 'lsuv': tol must be > 0"),
        ({"plot": Path("/no/such/dir/depth.png")}, "--plot: directory '/no/such/dir' does not exist"),
        ({"model": "cnn1d", "activation": "relu"}, None),  # runs: a conv net over the 100 features as a sequence
    ],
)
def test_every_field_is_checked(kwargs, message, capsys):
    arguments = {"dataset": "seed-binary", "model": "deep-mlp", "init": "he_normal", "depth": 3, "width": 16,
                 "hidden": None, "activation": None, "batch_size": 32, "loss": None, "plot": None, "seed": 0}
    if kwargs.get("model", "deep-mlp") != "deep-mlp":
        arguments.update(depth=None, width=None)
    arguments.update(kwargs)
    if message is None:
        doctor(**arguments)
        assert "verdict: " in capsys.readouterr().out
        return
    with pytest.raises(ValueError) as error:
        doctor(**arguments)
    text = str(error.value)
    assert "\n" not in text and text.startswith(message.split(":")[0]) and message in text, text


# -- the workload from a study spec, dataset options: bad input names the field ---------------------
SPEC_TEXT = """name = "s"
[workload]
dataset = "modular-addition"
model = "transformer"
{extra}
[workload.data]
p = 13
[grid]
init = ["gpt2"]
[[grid.optimizer]]
name = "adamw"
"""


@pytest.mark.parametrize(
    ("extra", "kwargs", "message"),
    [
        ("", {"model": "mlp"}, "--model: --spec s.toml names the workload; leave --model out"),
        ("", {"depth": 3}, "--depth: --spec s.toml names the workload"),
        ("", {"data_option": ["p=1"]}, "--data-option p: dataset 'modular-addition' option 'p': must be in [2, 1000], got 1"),
        ("", {"data_option": ["q=1"]}, "--data-option q: dataset 'modular-addition' has no option 'q'"),
        ("", {"data_option": ["p"]}, "--data-option: expected KEY=VALUE, got 'p'"),
        ("heads = 5", {}, "--spec s.toml: workload.heads: model 'transformer': option 'heads' (5) must divide d_model"),
        ("layers = 0", {}, "--spec s.toml: workload.layers:"),
        ('[train]\nloss = "mse"', {}, "--spec s.toml: train.loss: 'mse' does not fit this multiclass task"),
        ("", {"spec": Path("missing.toml")}, "--spec missing.toml: spec file not found"),
        ("", {"spec": None, "dataset": "modular-addition", "data_option": ["p=x"]},
         "--data-option p: dataset 'modular-addition' option 'p': expected a whole number"),
        ("", {"spec": None, "dataset": "digits", "data_option": ["p=3"]}, "--data-option p: dataset 'digits' takes no options"),
        ("", {"spec": None, "dataset": "text:none.txt", "model": "transformer"}, "--dataset: none.txt: no such file"),
        ("", {"spec": None, "dataset": "synthetic-ratings", "model": "transformer"}, "--model: model 'transformer' needs token"),
    ],
)
def test_spec_and_data_options_are_checked(extra, kwargs, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(SPEC_TEXT.format(extra=extra))
    arguments = {"spec": Path("s.toml"), "batch_size": 8, **kwargs}
    with pytest.raises(ValueError) as error:
        doctor(**arguments)
    text = str(error.value)
    assert "\n" not in text and text.startswith(message), text


def test_a_spec_gives_the_workload_and_data_options_change_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(SPEC_TEXT.format(extra="d_model = 16\nheads = 2"))
    doctor(spec=Path("s.toml"), data_option=["p=7"], init="gpt2", batch_size=16)
    out = capsys.readouterr().out
    assert "tok Embedding 8x16" in out and "head Linear 16->7" in out and "verdict: healthy" in out
