"""Lion and Muon (with its AdamW) as study optimizers: the bundled engine gives the sequential engine's
losses, each configuration with its own hyperparameters."""

from __future__ import annotations

import pytest

from initopt.study import parse_spec
from initopt.study.engine import train_bundle
from initopt.study.sequential import train_sequential
from initopt.study.spec import SpecError
from initopt.study.workload import prepare

TRANSFORMER = {"dataset": "modular-addition", "model": "transformer", "d_model": 16, "layers": 1, "heads": 2,
               "data": {"p": 11, "train_fraction": 0.5}}
MLP = {"dataset": "seed-binary", "model": "mlp", "hidden": [16, 8]}


def _losses(workload, configs, engine):
    out: dict[str, list[float]] = {}
    engine(workload, configs, on_epoch=lambda rows: [out.setdefault(r.config_id, []).append(r.train_loss) for r in rows])
    return out


@pytest.mark.parametrize("workload_table", [MLP, TRANSFORMER], ids=["mlp", "transformer"])
def test_lion_and_muon_bundles_train_as_the_sequential_engine(workload_table):
    raw = {"name": "families", "workload": workload_table, "train": {"epochs": 2, "batch_size": 32},
           "grid": {"init": ["he_normal"], "seeds": [0, 1], "optimizer": [
               {"name": "lion", "lr": [1e-4, 3e-4], "weight_decay": [1.0], "decay": ["coupled", "independent"],
                "schedule": ["constant", "warmup-cosine"]},
               {"name": "muon", "lr": [1e-3], "adjust_lr_fn": ["original", "match_rms_adamw"], "momentum": [0.9, 0.95]}]}}
    workload = prepare(parse_spec(raw))
    configs = workload.spec.configs()
    bundled, sequential = _losses(workload, configs, train_bundle), _losses(workload, configs, train_sequential)
    for config in configs:
        # Muon's Newton-Schulz runs in bfloat16: the bundled forward's last-bit differences can move an
        # element by 2^-8 there, so the engines agree to 1e-4 rather than to the last bits
        assert bundled[config.id] == pytest.approx(sequential[config.id], abs=1e-4), config.hyper
    lion = {(c.hyper["lr"], c.hyper["decay"], c.hyper.get("schedule"), c.seed): bundled[c.id] for c in configs if c.optimizer == "lion"}
    assert lion[(1e-4, "coupled", None, 0)] != pytest.approx(lion[(3e-4, "coupled", None, 0)], abs=1e-5)


def test_the_spec_takes_each_familys_hyperparameters_and_names_a_wrong_one():
    spec = parse_spec({"name": "s", "workload": MLP, "train": {"epochs": 1},
                       "grid": {"init": ["he_normal"], "seeds": [0],
                                "optimizer": [{"name": "muon", "adjust_lr_fn": ["match_rms_adamw"]}, {"name": "lion"}]}})
    muon, lion = spec.configs()
    assert muon.hyper == {"lr": 1e-3, "weight_decay": 0.1, "momentum": 0.95, "nesterov": True, "adjust_lr_fn": "match_rms_adamw"}
    assert lion.hyper == {"lr": 1e-4, "betas": [0.9, 0.99], "weight_decay": 0.0, "decay": "coupled"}
    with pytest.raises(SpecError, match="grid.optimizer\\[0\\].eps.*lion does not take"):
        parse_spec({"name": "s", "workload": MLP, "grid": {"init": ["he_normal"], "optimizer": [{"name": "lion", "eps": [1e-8]}]}})
    with pytest.raises(SpecError, match="adjust_lr_fn.*original, match_rms_adamw"):
        parse_spec({"name": "s", "workload": MLP, "grid": {"init": ["he_normal"], "optimizer": [{"name": "muon", "adjust_lr_fn": ["rms"]}]}})
