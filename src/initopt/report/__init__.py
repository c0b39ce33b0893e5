"""Study reports: which combination wins, by how much, and why.

``write_report(db, study=None, out=None, format="html")`` reads a study from its SQLite file and
writes one self-contained HTML file (or Markdown with PNGs and a CSV beside it)::

    >>> from initopt.report import write_report
    >>> write_report("initopt.db", out="report.html")        # doctest: +SKIP
    PosixPath('report.html')

The work is split as compute, then render: ``data.load_study`` reads the store, ``sections.build_report``
computes every section as plain records (``stats`` holds the means, intervals and Welch's test,
``importance`` the fANOVA importance), and ``plots`` / ``html`` / ``markdown`` / ``text`` draw them.
"""

from __future__ import annotations

from pathlib import Path

FORMATS = ("html", "markdown")
DEFAULT_OUT = {"html": "report.html", "markdown": "report.md"}


def load_report(db: str | Path, study: str | None = None):
    """The computed ``Report`` of ``study`` (or the only study in ``db``): records, no rendering."""
    from initopt.report.data import load_study
    from initopt.report.sections import build_report

    return build_report(load_study(db, study))


def write_report(db: str | Path, study: str | None = None, out: str | Path | None = None, format: str = "html") -> Path:
    """Write the report of ``study`` in ``db`` (the only study when ``None``) to ``out``; return its path.

    ``format="html"``: one file, pictures embedded, nothing fetched from the network.
    ``format="markdown"``: ``out`` (``.md``) with ``<stem>_files/*.png`` and ``<stem>_leaderboard.csv``
    beside it. ``out`` defaults to ``report.html`` / ``report.md`` in the working directory; missing
    folders are made. Raises ``ValueError`` naming the field (``--format``, ``--out``, ``--db``, ``--study``).
    """
    _check(out, format)
    return save_report(load_report(db, study), out, format)


def save_report(report, out: str | Path | None = None, format: str = "html") -> Path:
    """Render an already computed ``Report`` (from ``load_report``) to ``out``; see ``write_report``."""
    path = _check(out, format)
    from initopt.report.plots import pictures

    images = pictures(report)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if format == "html":
            from initopt.report.html import render_html

            path.write_text(render_html(report, images), encoding="utf-8")
        else:
            from initopt.report.markdown import write_markdown

            write_markdown(report, images, path)
    except OSError as exc:  # a read-only folder, a full disk: name the option, keep the message short
        raise ValueError(f"--out {path}: {exc.strerror or exc}") from None
    return path


def _check(out: str | Path | None, format: str) -> Path:
    if format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    path = Path(out) if out is not None else Path(DEFAULT_OUT[format])
    if path.is_dir():
        raise ValueError(f"--out {path}: is a folder; give a file name such as {path / DEFAULT_OUT[format]}")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"--out {path}: {parent} is a file, not a folder")
    return path


__all__ = ["FORMATS", "load_report", "save_report", "write_report"]
