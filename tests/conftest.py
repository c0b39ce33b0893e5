"""Shared fixtures. Tiny models run fastest on one thread, and the suite must not fight itself for cores."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def xor_data():
    """A small binary task a 1-hidden-layer MLP can learn: the sign of x0 * x1."""
    g = torch.Generator().manual_seed(123)
    x = torch.randn(512, 8, generator=g)
    y = (x[:, 0] * x[:, 1] > 0).float()
    return x, y


def _initopt_command() -> list[str]:
    """The installed console script when there is one (as users run it), else ``python -m initopt``."""
    script = Path(sys.executable).parent / "initopt"
    if script.exists():
        return [str(script)]
    found = shutil.which("initopt")
    return [found] if found else [sys.executable, "-m", "initopt"]


def _cli_environment() -> dict[str, str]:
    """A narrow terminal's width (tables must read at 80 columns) and nothing that forces colour or a
    live bar onto the pipes the tests read."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "80"}
    for name in ("INITOPT_DEBUG", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    return env


@pytest.fixture
def initopt_command() -> list[str]:
    return _initopt_command()


@pytest.fixture
def cli_environment() -> dict[str, str]:
    return _cli_environment()


@pytest.fixture
def cli(tmp_path):
    """Run ``initopt ARGS...`` in a real subprocess, in ``tmp_path`` (``columns``: a wider terminal than 80)."""

    def run(*args: str, timeout: float = 120, columns: int | None = None) -> subprocess.CompletedProcess:
        env = _cli_environment() if columns is None else {**_cli_environment(), "COLUMNS": str(columns)}
        return subprocess.run([*_initopt_command(), *args], capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                              env=env)

    return run
