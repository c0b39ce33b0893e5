"""The Typer app and the entry point that turns bad input into one line on stderr and exit code 2."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from initopt.cli import bench as bench_command
from initopt.cli import doctor as doctor_command
from initopt.cli import explain as explain_command
from initopt.cli import study as study_command
from initopt.cli import train as train_command

app = typer.Typer(
    name="initopt",
    help="Choose weight initialization and optimizer settings by measurement.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from initopt import __version__

        print(f"initopt {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                   help="Print the version and exit.")] = False) -> None:
    """Choose weight initialization and optimizer settings by measurement."""


app.command("train")(train_command.train)
app.command("explain")(explain_command.explain)
app.add_typer(study_command.app, name="study")
app.command("doctor")(doctor_command.doctor)
app.add_typer(bench_command.app, name="bench")

USAGE_ERROR = 2
DEBUG_ENV = "INITOPT_DEBUG"  # set to 1 to see the traceback behind a one-line error


def fail(message: str, code: int = USAGE_ERROR) -> None:
    print(f"initopt: error: {message}", file=sys.stderr)
    sys.exit(code)


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        result = app(args=argv, prog_name="initopt", standalone_mode=False)
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help was printed: that was the answer
            sys.exit(0)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # Typer's / Click's usage errors
            fail(exc.format_message(), USAGE_ERROR)
        if isinstance(exc, KeyError):  # str() of a KeyError is the repr of its key
            fail(str(exc.args[0]) if exc.args else "missing key", USAGE_ERROR)
        if isinstance(exc, (ValueError, OSError)):
            fail(str(exc), USAGE_ERROR)
        if type(exc).__name__ == "Abort":  # Ctrl-C (click turns KeyboardInterrupt into Abort)
            fail("interrupted", 130)
        raise
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    run()
