import copy

import pytest

from initopt.study import SpecError, default_spec_path, load_spec, parse_spec, resolved
from initopt.study.workload import prepare

BASE = {
    "name": "t",
    "workload": {"dataset": "seed-binary", "model": "mlp", "hidden": [8], "activation": "relu"},
    "train": {"epochs": 2, "batch_size": 32},
    "grid": {
        "init": ["zeros", {"name": "gaussian", "std": 0.01}, "he_normal"],
        "seeds": [0, 1],
        "optimizer": [
            {"name": "sgd", "lr": [0.01, 0.1], "momentum": [0.0, 0.9]},
            {"name": "adamw", "lr": 1e-3},
        ],
    },
}


def spec_with(path, value):
    raw = copy.deepcopy(BASE)
    table = raw
    *parents, last = path.split(".")
    for key in parents:
        table = table[key]
    if value is DELETE:
        del table[last]
    else:
        table[last] = value
    return raw


DELETE = object()


def test_default_study_expands_to_240_configurations_with_unique_ids():
    spec = load_spec(default_spec_path())
    configs = resolved(spec).configs()
    assert len(configs) == 5 * 4 * 4 * 3
    assert len({c.id for c in configs}) == len(configs)
    assert {c.optimizer for c in configs} == {"sgd", "adam", "adamw"}
    assert {c.hyper["momentum"] for c in configs if c.optimizer == "sgd"} == {0.0, 0.9}
    assert {c.hyper["weight_decay"] for c in configs if c.optimizer == "adamw"} == {0.01}


def test_ids_are_stable_and_independent_of_grid_order():
    ids = {c.id for c in resolved(parse_spec(BASE)).configs()}
    shuffled = copy.deepcopy(BASE)
    shuffled["grid"]["init"].reverse()
    shuffled["grid"]["seeds"].reverse()
    shuffled["grid"]["optimizer"].reverse()
    shuffled["grid"]["optimizer"][1]["lr"].reverse()
    assert {c.id for c in resolved(parse_spec(shuffled)).configs()} == ids
    assert {c.id for c in resolved(parse_spec(copy.deepcopy(BASE))).configs()} == ids


def test_ids_change_with_what_the_configuration_is():
    ids = {c.id for c in resolved(parse_spec(BASE)).configs()}
    assert not ids & {c.id for c in resolved(parse_spec(spec_with("train.epochs", 3))).configs()}
    assert not ids & {c.id for c in resolved(parse_spec(spec_with("workload.hidden", [9]))).configs()}


def test_defaults_and_aliases_name_the_same_configuration():
    explicit = spec_with("grid.optimizer", [{"name": "adamw", "lr": [1e-3], "weight_decay": [0.01], "betas": [0.9, 0.999]}])
    explicit["grid"]["init"] = [{"name": "normal", "std": 0.01}]
    implicit = spec_with("grid.optimizer", [{"name": "AdamW", "lr": 0.001}])
    implicit["grid"]["init"] = [{"name": "Gaussian", "std": 0.01}]
    assert [c.id for c in resolved(parse_spec(explicit)).configs()] == [c.id for c in resolved(parse_spec(implicit)).configs()]


def test_an_omitted_loss_and_metric_name_the_configurations_their_defaults_name():
    implicit = copy.deepcopy(BASE)
    implicit["train"].pop("loss", None)
    implicit["train"].pop("metric", None)
    explicit = prepare(parse_spec(implicit)).spec
    assert explicit.train.loss and explicit.train.metric
    assert [c.id for c in resolved(parse_spec(implicit)).configs()] == [c.id for c in explicit.configs()]


def test_toml_and_yaml_files(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text(default_spec_path().read_text())
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text(
        "name: y\nworkload: {dataset: digits}\ngrid:\n  init: [he_normal]\n  optimizer: [{name: adam, lr: [0.001, 0.01]}]\n"
    )
    assert len(resolved(load_spec(toml)).configs()) == 240
    spec = load_spec(yaml_file)
    assert spec.train.epochs == 10 and spec.seeds == (0,) and len(resolved(spec).configs()) == 2


@pytest.mark.parametrize(
    "path, value, field",
    [
        ("name", DELETE, "name"),
        ("grid.init", [], "grid.init"),
        ("grid.init", ["he_norml"], "grid.init[0]"),
        ("grid.init", [{"name": "gaussian", "sd": 1}], "grid.init[0]"),
        ("grid.optimizer", [], "grid.optimizer"),
        ("grid.optimizer", [{"name": "adamm", "lr": 0.1}], "grid.optimizer[0].name"),
        ("grid.optimizer", [{"name": "sgd", "lrr": 0.1}], "grid.optimizer[0].lrr"),
        ("grid.optimizer", [{"name": "sgd", "lr": "fast"}], "grid.optimizer[0].lr"),
        ("grid.optimizer", [{"name": "sgd", "lr": -1.0}], "grid.optimizer[0].lr"),
        ("grid.optimizer", [{"name": "adam", "betas": [0.9, 1.5]}], "grid.optimizer[0].betas"),
        ("grid.seeds", [], "grid.seeds"),
        ("grid.seeds", ["a"], "grid.seeds"),
        ("train.epochs", -1, "train.epochs"),
        ("train.epochs", "ten", "train.epochs"),
        ("train.batch_size", 0, "train.batch_size"),
        ("train.no_decay", ["bias"], "train.no_decay"),
        ("train.no_decay", "bias", "train.no_decay"),
        ("train.epoch", 3, "train.epoch"),
        ("workload", DELETE, "workload"),
        ("workload.hidden", [64, "x"], "workload.hidden"),
        ("grid", DELETE, "grid"),
    ],
)
def test_bad_specs_name_the_field(path, value, field):
    with pytest.raises(SpecError) as info:
        parse_spec(spec_with(path, value))
    assert f"{field}:" in str(info.value)


def test_unknown_names_list_valid_ones():
    with pytest.raises(SpecError, match="did you mean 'adam'"):
        parse_spec(spec_with("grid.optimizer", [{"name": "adamm"}]))
    with pytest.raises(SpecError, match="he_normal"):
        parse_spec(spec_with("grid.init", ["he_norml"]))


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    with pytest.raises(SpecError, match="bad.toml: not valid TOML"):
        load_spec(bad)


def test_overlapping_optimizer_tables_name_each_configuration_once():
    raw = spec_with("grid.optimizer", [{"name": "adam", "lr": [1e-3, 1e-2]}, {"name": "adam", "lr": [1e-3], "weight_decay": [0.0, 0.01]}])
    raw["grid"]["seeds"] = [0]
    raw["grid"]["init"] = ["he_normal"]
    configs = resolved(parse_spec(raw)).configs()
    assert len(configs) == len({c.id for c in configs}) == 3


@pytest.mark.parametrize("table", [
    {"name": "sgd", "nesterov": [True], "momentum": [0.0, 0.9]},
    {"name": "sgd", "nesterov": [True], "momentum": [0.9], "dampening": [0.5]},
])
def test_nesterov_needs_momentum_and_no_dampening_in_every_combination(table):
    with pytest.raises(SpecError, match=r"grid.optimizer\[0\].nesterov"):
        parse_spec(spec_with("grid.optimizer", [table]))


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_hyperparameters_must_be_finite(value):
    with pytest.raises(SpecError, match=r"grid.optimizer\[0\].lr"):
        parse_spec(spec_with("grid.optimizer", [{"name": "adam", "lr": [value]}]))


def test_yaml_reads_exponent_numbers_as_numbers(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: y\nworkload: {dataset: digits}\ngrid:\n  init: [he_normal]\n  optimizer: [{name: adamw, lr: [1e-3, 3e-4]}]\n")
    assert sorted(c.lr for c in resolved(load_spec(path)).configs()) == [3e-4, 1e-3]


def test_the_decay_rule_is_part_of_what_a_configuration_is():
    """train.no_decay: biases and norms by default (param_groups' rule); [] (every parameter, the rule before
    the field) keeps the ids configurations had then; the order of its names does not matter."""
    default = {c.id for c in resolved(parse_spec(BASE)).configs()}
    every = {c.id for c in resolved(parse_spec(spec_with("train.no_decay", []))).configs()}
    listed = {c.id for c in resolved(parse_spec(spec_with("train.no_decay", ["norm", "bias"]))).configs()}
    embeddings = {c.id for c in resolved(parse_spec(spec_with("train.no_decay", ["bias", "norm", "embedding"]))).configs()}
    assert listed == default and len({frozenset(default), frozenset(every), frozenset(embeddings)}) == 3
    assert parse_spec(BASE).train.no_decay_rule == ("bias", "norm")
    assert parse_spec(BASE).to_dict()["train"]["no_decay"] == ["bias", "norm"]

