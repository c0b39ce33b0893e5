"""``initopt train --schedule``: the schedule in the header, the lr in each epoch line, and bad
settings as one line naming the flag, exit 2 (the flags' errors in-process, the CLI's handling of
them once through a real process)."""

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


BAD_SETTINGS = [
    (("cosine", None, None), "--schedule: unknown schedule 'cosine'; did you mean 'warmup-cosine'?"),
    (("wsd", 1.0, None), "--warmup: warmup_fraction must be in [0, 1), got 1.0"),
    (("warmup-cosine", -0.1, None), "--warmup: warmup_fraction must be in [0, 1), got -0.1"),
    ((None, 0.1, None), "--warmup: applies to a --schedule (warmup-cosine, wsd or wsd-1sqrt), and none is given"),
    (("warmup-cosine", None, 0.2),
     "--decay-fraction: decay_fraction does not apply to the warmup-cosine schedule (it takes warmup_fraction, final)"),
    (("wsd:final=2", None, None), "--schedule: final must be in [0, 1], got 2.0"),
]


@pytest.mark.parametrize(("settings", "message"), BAD_SETTINGS,
                         ids=["unknown-name", "warmup-1", "warmup-negative", "warmup-without-schedule",
                              "decay-without-wsd", "bad-final"])
def test_bad_schedule_settings_name_the_flag(settings, message):
    from initopt.cli.train import _schedule

    with pytest.raises(ValueError) as error:
        _schedule(*settings)
    assert str(error.value).startswith(message.removeprefix("initopt: error: ")), str(error.value)


def test_a_bad_schedule_is_one_line_and_exit_2(cli):
    """The CLI's handling of those errors, once through a real process."""
    result = cli("train", "--epochs", "1", "--schedule", "cosine")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"initopt: error: {BAD_SETTINGS[0][1]}"), result.stderr
