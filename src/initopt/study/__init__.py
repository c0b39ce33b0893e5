"""Studies: a grid of init x optimizer x hyperparameters x seeds, trained in bundles, stored in SQLite.

``run_study(spec, db=...)`` runs (or resumes) a study; ``load(db, name)`` reads its configurations back.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from initopt.study.export import load
from initopt.study.spec import Config, SpecError, StudySpec, load_spec, parse_spec


def default_spec_path() -> Path:
    """The embedded default study (the question of the texts on the model of the texts)."""
    return Path(str(resources.files("initopt.study") / "default.toml"))


def resolved(spec: StudySpec) -> StudySpec:
    """``spec`` with the loss and metric it leaves to the dataset's task filled in (reads the data and
    tries one model: ``initopt.study.workload.prepare``); then ``spec.configs()`` names the ids a
    study's database holds."""
    from initopt.study.workload import prepare

    return prepare(spec).spec


def run_study(*args, **kwargs):
    from initopt.study.runner import run_study as run

    return run(*args, **kwargs)


__all__ = ["Config", "SpecError", "StudySpec", "default_spec_path", "load", "load_spec", "parse_spec", "resolved",
           "run_study"]
