"""``[workload.data]``: dataset options in a spec, checked at parse time, part of every id; specs
without it keep the ids they had before datasets took options."""

from __future__ import annotations

import copy

import pytest

from initopt.study import SpecError, load_spec, parse_spec
from initopt.study.workload import prepare

BASE = {
    "name": "t",
    "workload": {"dataset": "seed-binary", "model": "mlp", "hidden": [8], "activation": "relu"},
    "train": {"epochs": 2, "batch_size": 32, "loss": "bce", "metric": "accuracy"},
    "grid": {
        "init": ["he_normal", {"name": "gaussian", "std": 0.01}],
        "seeds": [0, 1],
        "optimizer": [{"name": "adamw", "lr": 1e-3}, {"name": "sgd", "lr": [0.1], "momentum": [0.9]}],
    },
}
# The ids and workload key of BASE computed by the code before [workload.data] existed: a study
# database written then must still find its configurations.
BASE_IDS = ["8758e4b86ea4", "03c86fe400a2", "f2143314ff81", "57258f96a9b6",
            "7abb89f4991e", "87d33e078cfe", "68eb7ac5bf5c", "dc697c3234dd"]
BASE_WORKLOAD_KEY = "aabb2d158d72"


def modular(data: dict | None = None, **workload) -> dict:
    raw = copy.deepcopy(BASE)
    raw["workload"] = {"dataset": "modular-addition", "model": "mlp", **workload}
    if data is not None:
        raw["workload"]["data"] = data
    raw["train"] = {"epochs": 1, "batch_size": 64, "loss": "cross_entropy", "metric": "accuracy"}
    return raw


def ids(raw: dict) -> list[str]:
    return [c.id for c in parse_spec(raw).configs()]


def test_a_spec_without_data_keeps_its_ids_and_workload_key():
    """Without a validation split and with every parameter decaying (as every study was before validation
    splits and train.no_decay), the ids are the old ones."""
    raw = copy.deepcopy(BASE)
    raw["train"]["validation"] = 0
    raw["train"]["no_decay"] = []
    spec = parse_spec(raw)
    assert [c.id for c in spec.configs()] == BASE_IDS
    assert spec.workload_key() == BASE_WORKLOAD_KEY
    assert "data" not in spec.workload.to_dict() and spec.workload.data == {}
    # the default validation split trains on other rows: other configurations
    assert not set(ids(copy.deepcopy(BASE))) & set(BASE_IDS)


def test_data_options_are_filled_with_defaults_and_name_the_configurations():
    spec = parse_spec(modular({"p": 7}))
    assert dict(spec.workload.data) == {"p": 7, "train_fraction": 0.4, "seed": 0}
    assert spec.workload.options == {}  # dataset options are not model options
    assert spec.to_dict()["workload"]["data"] == {"p": 7, "train_fraction": 0.4, "seed": 0}
    # an omitted option and its default (in any numeric spelling) name the same configurations
    assert ids(modular()) == ids(modular({})) == ids(modular({"p": 97.0, "train_fraction": 0.4, "seed": 0}))
    # other options, other configurations, and another workload
    assert not set(ids(modular({"p": 7}))) & set(ids(modular()))
    assert not set(ids(modular({"train_fraction": 0.5}))) & set(ids(modular()))
    assert parse_spec(modular({"p": 7})).workload_key() != parse_spec(modular()).workload_key()


def test_the_canonical_dict_parses_back_to_the_same_ids():
    spec = parse_spec(modular({"p": 11, "seed": 2}))
    assert [c.id for c in parse_spec(spec.to_dict()).configs()] == [c.id for c in spec.configs()]


@pytest.mark.parametrize(
    "dataset, data, field, fragment",
    [
        ("modular-addition", {"p": 1}, "workload.data.p", "must be in [2, 1000], got 1"),
        ("modular-addition", {"p": "big"}, "workload.data.p", "expected a whole number"),
        ("modular-addition", {"train_fraction": 2}, "workload.data.train_fraction", "must be in (0, 1)"),
        ("modular-addition", {"q": 3}, "workload.data.q", "has no option 'q' valid: p, train_fraction, seed"),
        ("synthetic-ratings", {"n_user": 3}, "workload.data.n_user", "did you mean 'n_users'?"),
        ("digits", {"p": 3}, "workload.data.p", "dataset 'digits' takes no options"),
        ("text:corpus.txt", {"context": 0}, "workload.data.context", "must be >= 1"),
        ("modular-addition", [1, 2], "workload.data", "expected a table of dataset options"),
    ],
)
def test_bad_data_options_name_the_field(dataset, data, field, fragment):
    raw = modular(data)
    raw["workload"]["dataset"] = dataset
    with pytest.raises(SpecError) as err:
        parse_spec(raw)
    message = str(err.value)
    assert message.startswith(f"spec: {field}: ") and fragment in message


def test_parsing_reads_no_file(tmp_path):
    """A file dataset's options are checked from its name alone; the file is prepare's business."""
    raw = modular({"context": 16})
    raw["workload"]["dataset"] = f"text:{tmp_path / 'not-yet-written.txt'}"
    assert dict(parse_spec(raw).workload.data) == {"context": 16}
    with pytest.raises(SpecError, match="workload.dataset: .*not-yet-written.txt: no such file"):
        prepare(parse_spec(raw))


def test_toml_data_table(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "grok"\n[workload]\ndataset = "modular-addition"\nmodel = "mlp"\n'
        "[workload.data]\np = 13\ntrain_fraction = 0.5\n"
        '[grid]\ninit = ["he_normal"]\n[[grid.optimizer]]\nname = "adamw"\nlr = [1e-3]\n'
    )
    assert dict(load_spec(path).workload.data) == {"p": 13, "train_fraction": 0.5, "seed": 0}


def test_prepare_loads_the_dataset_with_its_options_and_builds_with_its_info(factory_module, monkeypatch):
    factory_module("embed_factory", """
        from torch import nn

        def build(n_features, out, **options):
            return nn.Sequential(nn.Embedding(8, 4), nn.Flatten(), nn.Linear(4 * n_features, out))
    """)
    raw = modular({"p": 7, "train_fraction": 0.5})
    raw["workload"]["model"] = "embed_factory:build"
    workload = prepare(parse_spec(raw))
    info = workload.info
    assert (info.vocab_size, info.n_classes, info.n_train) == (8, 7, 19)  # p = 7 reached the data (5 held out)
    assert workload.train.x.dtype.is_floating_point is False
    seen = {}
    import initopt.models

    def spy(name, **kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(initopt.models, "build_model", spy)
    with pytest.raises(ValueError, match="stop here"):
        workload.build()
    assert seen["dataset"] is info


def test_a_factorys_whole_number_hidden_keeps_the_ids_it_had_as_a_list():
    """Before factories got their options as written, `hidden = 48` reached them (and the ids) as [48]:
    the ids of those studies' databases stay what they were."""
    scalar, listed = copy.deepcopy(BASE), copy.deepcopy(BASE)
    scalar["workload"].update(model="mypkg.models:make", hidden=48)
    listed["workload"].update(model="mypkg.models:make", hidden=[48])
    for raw in (scalar, listed):
        raw["train"]["validation"] = 0
    assert ids(scalar) == ids(listed)
    assert parse_spec(scalar).workload.options["hidden"] == 48  # the factory still gets 48
