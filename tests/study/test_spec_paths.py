"""A spec's own files: paths read against its folder, a factory's options as written, ids that do not
depend on where the study ran, and one probe model per study (in process; the CLI runs them in
tests/cli/test_user_files_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from initopt.data.paths import resolve_dataset
from initopt.study import SpecError, load_spec, parse_spec

BASE = {"name": "s", "grid": {"init": ["he_normal"], "optimizer": [{"name": "adam"}]}}


def spec_with(workload: dict) -> dict:
    return {**BASE, "workload": workload}


@pytest.mark.parametrize(
    ("model", "hidden", "expected"),
    [("mlp", 48, [48]), ("mlp", [8, 4], [8, 4]), ("pkg.mod:make", 48, 48), ("pkg.mod:make", "wide", "wide")],
)
def test_only_built_ins_read_hidden_as_a_list(model, hidden, expected):
    assert parse_spec(spec_with({"dataset": "digits", "model": model, "hidden": hidden})).workload.options["hidden"] == expected


def test_a_factorys_options_are_not_checked_as_a_built_ins():
    options = {"depth": 0, "activation": {"name": "relu"}}
    assert dict(parse_spec(spec_with({"dataset": "digits", "model": "pkg.mod:make", **options})).workload.options) == options
    with pytest.raises(SpecError, match=r"workload\.depth: expected a whole number >= 1, got 0"):
        parse_spec(spec_with({"dataset": "digits", "model": "deep-mlp", "depth": 0}))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("csv:data/x.csv:label", "csv:{folder}/data/x.csv:label"),
        ("CSV:data/x.csv:label", "CSV:{folder}/data/x.csv:label"),
        ("text:notes.txt", "text:{folder}/notes.txt"),
        ("ratings:../r.csv", "ratings:{parent}/r.csv"),
        ("images.npz", "{folder}/images.npz"),
        ("csv:/abs/x.csv:label", "csv:/abs/x.csv:label"),
        ("digits", "digits"),
        ("no-such-dataset", "no-such-dataset"),
    ],
)
def test_resolve_dataset_reads_relative_files_against_the_folder(name, expected, tmp_path, monkeypatch):
    folder = tmp_path / "spec"
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # the files lie outside the working directory: absolute paths
    assert resolve_dataset(name, folder) == expected.format(folder=folder, parent=tmp_path)
    assert resolve_dataset(name, None) == name


def test_under_the_working_directory_the_path_stays_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_dataset("text:data/t.txt", tmp_path / "examples") == "text:examples/data/t.txt"


def test_ids_and_stored_spec_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "proj").mkdir()
    spec = tmp_path / "proj" / "s.toml"
    spec.write_text('name = "s"\n[workload]\ndataset = "csv:data/x.csv:label"\n[train]\nloss = "bce"\n'
                    'metric = "accuracy"\n[grid]\ninit = ["he_normal"]\n[[grid.optimizer]]\nname = "adam"\n')
    seen = []
    for cwd in (tmp_path, tmp_path / "proj"):
        monkeypatch.chdir(cwd)
        loaded = load_spec(spec.relative_to(tmp_path) if cwd == tmp_path else Path("s.toml"))
        assert loaded.workload.folder == (tmp_path / "proj").resolve()
        seen.append(([c.id for c in loaded.configs()], loaded.to_dict()))  # no data read: the file need not exist
    assert seen[0] == seen[1]
    assert seen[0][1]["workload"]["dataset"] == "csv:data/x.csv:label"  # as written, not resolved


def test_a_study_builds_one_probe_model_for_its_check_and_its_memory_sizing(small_spec, monkeypatch):
    from initopt import workloads
    from initopt.study import workload as workload_module
    from initopt.study.runner import _bytes_per_config

    built = []
    build = workloads.Setup.build
    monkeypatch.setattr(workloads.Setup, "build", lambda self: built.append(1) or build(self))
    workload = workload_module.prepare(parse_spec(small_spec))
    _bytes_per_config(workload)
    assert len(built) == 1 and workload.probe_model() is workload.probe
    configs = workload.spec.configs()
    for config in configs[:3]:
        workload.initialized_model(config)
    assert len(built) == 4
