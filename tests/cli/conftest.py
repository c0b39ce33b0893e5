import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def initopt_command() -> list[str]:
    """The installed console script when there is one (as users run it), else ``python -m initopt``."""
    script = Path(sys.executable).parent / "initopt"
    if script.exists():
        return [str(script)]
    found = shutil.which("initopt")
    return [found] if found else [sys.executable, "-m", "initopt"]


@pytest.fixture
def cli(tmp_path):
    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120"}
        env.pop("INITOPT_DEBUG", None)
        return subprocess.run([*initopt_command(), *args], capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env)

    return run
