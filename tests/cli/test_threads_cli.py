"""Thread counts: `--threads` and `train.threads` as given, and `auto` leaving the cores other
programs use to them (a real CPU-bound process beside a real `initopt train`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from initopt.study import SpecError, parse_spec
from initopt.threads import AUTO, parse_threads

THREADS = re.compile(r"torch [^,]+, (\d+) threads?$", re.M)


@pytest.mark.parametrize("value, expected", [("auto", AUTO), ("AUTO", AUTO), ("3", 3), (2, 2)])
def test_thread_settings(value, expected):
    assert parse_threads(value) == expected


@pytest.mark.parametrize("value", ["0", 0, -1, "two", 1.5, True])
def test_a_bad_thread_setting_names_its_field(value):
    with pytest.raises(ValueError, match="--threads: expected a whole number >= 1 or 'auto'"):
        parse_threads(value)
    raw = {"name": "t", "workload": {"dataset": "digits"}, "train": {"threads": value},
           "grid": {"init": "he_normal", "optimizer": {"name": "adamw"}}}
    with pytest.raises(SpecError, match="train.threads: expected a whole number >= 1 or 'auto'"):
        parse_spec(raw)


def test_threads_stay_out_of_the_configurations():
    raw = {"name": "t", "workload": {"dataset": "digits"}, "train": {"epochs": 1},
           "grid": {"init": "he_normal", "optimizer": {"name": "adamw"}}}
    plain = parse_spec(raw)
    raw["train"]["threads"] = 1
    pinned = parse_spec(raw)
    assert pinned.workload_key() == plain.workload_key() and pinned.to_dict()["train"]["threads"] == 1


def test_auto_leaves_a_busy_core_to_the_program_using_it(cli, cli_environment):
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("needs two cores")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores - 1)]
    try:
        time.sleep(0.5)
        busy = cli("train", "--epochs", "1", "--threads", "auto")
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert busy.returncode == 0, busy.stderr
    assert THREADS.search(busy.stdout).group(1) == "1", busy.stdout
