"""Fixtures for the report tests: one real tiny study (trained once per session), and synthetic
studies (``test_report_support``) with known answers and hostile strings."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from test_report_support import HOSTILE, Run, hostile_runs, write_study  # noqa: F401 (HOSTILE for tests)

# 2 inits x 2 optimizers x 2 lr x 2 seeds = 16 configurations, 3 epochs: about a second of training.
TINY_SPEC = {
    "name": "tiny",
    "description": "A tiny study for the report tests",
    "workload": {"dataset": "breast-cancer", "model": "mlp", "hidden": [8], "activation": "relu"},
    "train": {"epochs": 3, "batch_size": 64},
    "grid": {
        "init": ["he_normal", {"name": "gaussian", "std": 1.0}],
        "seeds": [0, 1],
        "optimizer": [
            {"name": "sgd", "lr": [0.01, 0.1], "momentum": [0.9]},
            {"name": "adamw", "lr": [1e-3, 1e-2]},
        ],
    },
}


@pytest.fixture
def make_study(tmp_path) -> Callable[..., Path]:
    """``make_study(runs, name="synthetic", **kw)``: a synthetic study in a fresh database."""
    counter = iter(range(1000))

    def make(runs: Sequence[Run], name: str = "synthetic", **kw) -> Path:
        return write_study(tmp_path / f"s{next(counter)}.db", name, runs, **kw)

    return make


@pytest.fixture(scope="session")
def tiny_db(tmp_path_factory) -> Path:
    """The tiny study, trained for real by the bundled engine (once per test session)."""
    from initopt.study import run_study

    db = tmp_path_factory.mktemp("tiny") / "tiny.db"
    run_study(copy.deepcopy(TINY_SPEC), db=db)
    return db


@pytest.fixture(scope="session")
def tiny_report(tiny_db):
    from initopt.report import load_report

    return load_report(tiny_db)


@pytest.fixture(scope="session")
def tiny_pictures(tiny_report):
    from initopt.report.plots import pictures

    return pictures(tiny_report)


@pytest.fixture(scope="session")
def tiny_html(tiny_report, tiny_pictures, tmp_path_factory) -> Path:
    """The tiny study's HTML report, written once."""
    from initopt.report.html import render_html

    path = tmp_path_factory.mktemp("tiny-html") / "report.html"
    path.write_text(render_html(tiny_report, tiny_pictures), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def hostile_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("hostile") / "hostile.db"
    return write_study(db, HOSTILE, hostile_runs(), description='<img src=x onerror=alert(2)> & "quotes"',
                       environment={"device": "<svg onload=alert(3)>", "torch": "test"})


@pytest.fixture(scope="session")
def hostile_html(hostile_db, tmp_path_factory) -> Path:
    from initopt.report import write_report

    return write_report(hostile_db, out=tmp_path_factory.mktemp("hostile-html") / "report.html")
