"""Fixtures for the store's conformance suite: every test that takes ``store`` runs on every backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from initopt.study.store import ConfigRecord, SQLiteStore

# Backends as data (optuna's habit): a new backend adds a row and runs the whole suite.
BACKENDS: dict[str, Callable[[object], SQLiteStore]] = {
    "sqlite-file": lambda tmp_path: SQLiteStore(tmp_path / "study.db"),  # type: ignore[operator]
    "sqlite-memory": lambda tmp_path: SQLiteStore(":memory:"),
}

STUDY = "lr-sweep"
WORKLOAD = "mlp-xor-10ep-bs64"
ENV = {"torch": "2.11", "device": "cpu", "python": "3.12"}


def _make_configs(n: int, prefix: str = "c") -> list[ConfigRecord]:
    """``n`` distinct configs cycling through the three optimizers."""
    out = []
    for i in range(n):
        optimizer = ("sgd", "adam", "adamw")[i % 3]
        hyper: dict[str, object] = {"lr": 10.0 ** -(1 + i % 4), "weight_decay": 0.01 * (i % 2)}
        if optimizer == "sgd":
            hyper["momentum"] = 0.9
        else:
            hyper.update(betas=(0.9, 0.999), eps=1e-8)
        init = "he_normal" if i % 2 else "gaussian(std=0.01)"
        out.append(ConfigRecord(f"{prefix}{i:04d}", init, {} if i % 2 else {"std": 0.01}, optimizer, hyper, seed=i))
    return out


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[SQLiteStore]:
    with BACKENDS[request.param](tmp_path) as s:
        yield s


@pytest.fixture
def study(store: SQLiteStore) -> SQLiteStore:
    """A store holding study ``"lr-sweep"`` (workload ``"mlp-xor-10ep-bs64"``) with six pending configs."""
    store.begin_study(STUDY, {"grid": {"lr": [0.1, 0.01]}}, WORKLOAD, ENV)
    store.add_configs(STUDY, _make_configs(6))
    return store


@pytest.fixture(name="make_configs")
def make_configs_fixture() -> Callable[..., list[ConfigRecord]]:
    """``make_configs(n, prefix="c")``: ``n`` distinct configs cycling sgd / adam / adamw."""
    return _make_configs
