"""The CLI through real subprocesses, as a user runs it."""

import re

import pytest

EPOCH_LINE = re.compile(
    r"^Epoch (\d+)/(\d+) - 103/103 - [\d.]+(ms|s) - loss: (\d\.\d{4}) - accuracy: (\d\.\d{4}) - val_loss: \d\.\d{4} - val_accuracy: (\d\.\d{4})$"
)


def test_help_lists_commands(cli):
    result = cli("--help")
    assert result.returncode == 0
    assert "train" in result.stdout and "explain" in result.stdout


@pytest.mark.parametrize("command", ["train", "explain"])
def test_every_command_has_help(cli, command):
    result = cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "--fan-in" in result.stdout if command == "explain" else "--weight-decay" in result.stdout


def test_train_without_arguments_runs_the_example_of_the_texts(cli):
    result = cli("train")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "MLP 100 -> 64 relu -> 1" in out and "he_normal" in out and "AdamW(lr=0.001, weight_decay=1e-05)" in out
    epochs = [EPOCH_LINE.match(line) for line in out.splitlines() if line.startswith("Epoch")]
    assert len(epochs) == 10 and all(epochs), out
    accuracy = [float(m.group(5)) for m in epochs]
    assert accuracy[-1] > accuracy[0] + 0.05  # accuracy climbs over the 10 epochs
    # 20% of the 4096 training rows held out for validation: 3276 trained on (103 steps of 32)
    assert "seed-binary: 3276 train / 820 validation / 1024 test" in out
    assert re.search(r"^Validation: loss \d\.\d{4} - accuracy \d\.\d{4}$", out, re.M)
    assert re.search(r"^Test: loss \d\.\d{4} - accuracy \d\.\d{4}", out, re.M)


def test_train_flags(cli):
    result = cli("train", "--dataset", "digits", "--hidden", "32,16", "--activation", "tanh", "--init",
                 "gaussian:std=0.1", "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.05", "--epochs", "2",
                 "--batch-size", "64", "--seed", "3", "--verbose", "2")
    assert result.returncode == 0, result.stderr
    assert "MLP 64 -> 32 tanh -> 16 tanh -> 10" in result.stdout and "SGD(" in result.stdout
    assert "Epoch 2/2" in result.stdout


def test_explain_prints_the_real_numbers(cli):
    result = cli("explain", "he_normal", "--fan-in", "100")
    assert result.returncode == 0, result.stderr
    assert "std = sqrt(Var(W)) = 0.1414" in result.stdout and "[-0.4197, 0.4197]" in result.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "--init", "he_norml"], "he_normal"),
        (["train", "--dataset", "digts"], "digits"),
        (["train", "--lr", "-1", "--epochs", "1"], "lr"),
        (["train", "--hidden", "64,x"], "--hidden"),
        (["train", "--optimizer", "adamm"], "adam"),
        (["train", "--epochs", "abc"], "epochs"),
        (["explain", "xavier_normal", "--fan-in", "10"], "fan_out"),
        (["explain", "he_normal"], "fan-in"),
        (["bogus"], "bogus"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(cli, args, needle):
    result = cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0] and "Traceback" not in result.stderr


def test_train_on_a_user_npz_with_two_input_axes(cli, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4, 5)).astype("float32")
    np.savez(tmp_path / "grid.npz", x=x, y=(x[:, 0, 0] > 0).astype("int64"))
    result = cli("train", "--dataset", str(tmp_path / "grid.npz"), "--epochs", "2", "--verbose", "2")
    assert result.returncode == 0, result.stderr
    assert "MLP 20 -> 64 relu -> 1" in result.stdout and "Epoch 2/2" in result.stdout
