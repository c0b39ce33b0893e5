"""``initopt study report``: the command function under a Typer app, as the CLI registers it."""

from __future__ import annotations

import pytest

typer = pytest.importorskip("typer")
from typer.testing import CliRunner  # noqa: E402

from initopt.cli.report import report  # noqa: E402


@pytest.fixture(scope="module")
def app():
    app = typer.Typer()
    app.command()(report)
    return app


def test_writes_the_report_and_prints_its_path_and_verdict(app, tiny_db, tmp_path):
    out = tmp_path / "out" / "tiny.html"
    result = CliRunner().invoke(app, ["--db", str(tiny_db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and out.read_text().startswith("<!DOCTYPE html>")
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"Report written to {out.resolve()}"
    assert lines[0].startswith("Use ")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "docx"], "--format must be one of html, markdown, got 'docx'"),
        (["--db", "missing.db"], "--db missing.db: no such database file"),
    ],
)
def test_bad_input_is_a_one_line_value_error(app, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, ValueError)
    assert str(result.exception).startswith(message) and "\n" not in str(result.exception)
