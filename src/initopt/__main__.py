"""``python -m initopt`` is the ``initopt`` command."""

from initopt.cli.main import run

run()
