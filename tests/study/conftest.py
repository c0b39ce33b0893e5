import copy
import textwrap

import pytest

SMALL = {
    "name": "small",
    "workload": {"dataset": "breast-cancer", "model": "mlp", "hidden": [16], "activation": "relu"},
    "train": {"epochs": 3, "batch_size": 32},
    "grid": {
        "init": ["he_normal", "xavier_normal"],
        "seeds": [0, 1],
        "optimizer": [
            {"name": "sgd", "lr": [0.01], "momentum": [0.0, 0.9]},
            {"name": "adam", "lr": [1e-3], "weight_decay": [0.0, 1e-3]},
            {"name": "adamw", "lr": [1e-3], "weight_decay": [1e-2]},
        ],
    },
}


@pytest.fixture
def small_spec():
    return copy.deepcopy(SMALL)


@pytest.fixture
def factory_module(tmp_path, monkeypatch):
    """Write a user model module into tmp_path and make it importable; returns its name."""

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(tmp_path))
        return name

    return write
