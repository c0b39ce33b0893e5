"""``initopt train --schedule``: the schedule in the header, the lr in each epoch line, and bad
settings as one line naming the flag, exit 2 (real subprocesses, as the other CLI tests)."""

import re

import pytest


def test_train_with_a_schedule_shows_it_and_the_lr_of_each_epoch(cli):
    result = cli("train", "--epochs", "2", "--schedule", "wsd-1sqrt", "--warmup", "0.1", "--decay-fraction", "0.5",
                 "--verbose", "2")
    assert result.returncode == 0, result.stderr
    assert "| lr schedule wsd-1sqrt:warmup_fraction=0.1,decay_fraction=0.5,final=0 |" in result.stdout
    lrs = [float(value) for value in re.findall(r"^Epoch \d/2 .* - lr: ([0-9.e+-]+)", result.stdout, re.M)]
    # the first epoch ends in the stable phase (at --lr), the second at the end of the cooldown
    assert len(lrs) == 2 and lrs[0] == 0.001 and lrs[1] < 0.001


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schedule", "cosine"], "--schedule: unknown schedule 'cosine'; did you mean 'warmup-cosine'?"),
        (["--schedule", "wsd", "--warmup", "1"], "--warmup: warmup_fraction must be in [0, 1), got 1.0"),
        (["--schedule", "warmup-cosine", "--warmup=-0.1"], "--warmup: warmup_fraction must be in [0, 1), got -0.1"),
        (["--warmup", "0.1"], "--warmup: applies to a --schedule (warmup-cosine, wsd or wsd-1sqrt), and none is given"),
        (["--schedule", "warmup-cosine", "--decay-fraction", "0.2"],
         "--decay-fraction: decay_fraction does not apply to the warmup-cosine schedule (it takes warmup_fraction, final)"),
        (["--schedule", "wsd:final=2"], "--schedule: final must be in [0, 1], got 2.0"),
    ],
    ids=["unknown-name", "warmup-1", "warmup-negative", "warmup-without-schedule", "decay-without-wsd", "bad-final"],
)
def test_bad_schedule_settings_are_one_line_and_exit_2(cli, args, message):
    result = cli("train", "--epochs", "1", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"initopt: error: {message}"), result.stderr
