"""Learning-rate schedules as grid axes: the spec's keys, the ids they leave alone, and both engines
following each configuration's schedule."""

from __future__ import annotations

import pytest

from initopt.study import parse_spec, resolved
from initopt.study.engine import train_bundle
from initopt.study.sequential import train_sequential
from initopt.study.spec import SpecError
from initopt.study.workload import prepare


def _raw(**optimizer):
    return {"name": "schedules", "workload": {"dataset": "seed-binary", "model": "mlp", "hidden": [16]},
            "train": {"epochs": 3, "batch_size": 64},
            "grid": {"init": ["he_normal"], "seeds": [0, 1], "optimizer": [{"name": "adamw", "lr": [1e-2], **optimizer}]}}


def test_a_constant_schedule_keeps_the_ids_of_a_study_without_schedules():
    plain = resolved(parse_spec(_raw())).configs()
    assert [c.id for c in resolved(parse_spec(_raw(schedule=["constant"], warmup=[0.1]))).configs()] == [c.id for c in plain]
    assert all(c.schedule is None for c in plain)


def test_schedule_and_warmup_cross_and_a_schedule_without_warmup_drops_it():
    configs = resolved(parse_spec(_raw(schedule=["constant", "warmup_cosine", "step"], warmup=[0.0, 0.2]))).configs()
    named = sorted({(c.hyper.get("schedule"), c.hyper.get("warmup")) for c in configs}, key=str)
    assert named == sorted([(None, None), ("warmup-cosine", 0.0), ("warmup-cosine", 0.2), ("step", None)], key=str)
    scheduled = next(c for c in configs if c.hyper.get("warmup") == 0.2)
    assert scheduled.schedule.name == "warmup-cosine" and scheduled.schedule.warmup_fraction == 0.2


@pytest.mark.parametrize("entry, message", [
    ({"schedule": ["cosine"]}, "grid.optimizer[0].schedule"),
    ({"schedule": ["wsd:decay_fraction=0.1"]}, "warmup in 'warmup'"),
    ({"schedule": [3]}, "expected a schedule's name"),
    ({"warmup": [1.0]}, "in [0, 1)"),
])
def test_bad_schedule_values_name_the_field(entry, message):
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        parse_spec(_raw(**entry))


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_the_bundled_engine_follows_each_schedule_as_the_sequential_engine(path):
    raw = _raw(schedule=["constant", "warmup-cosine", "wsd-1sqrt"], warmup=[0.3])
    raw["grid"]["optimizer"].append({"name": "sgd", "lr": [0.05], "momentum": [0.9], "schedule": ["step", "wsd"]})
    workload = prepare(parse_spec(raw))
    configs = workload.spec.configs()
    bundled, sequential = {}, {}
    train_bundle(workload, configs, optimizer_path=path,
                 on_epoch=lambda rows: [bundled.setdefault(r.config_id, []).append(r.train_loss) for r in rows])
    train_sequential(workload, configs,
                     on_epoch=lambda rows: [sequential.setdefault(r.config_id, []).append(r.train_loss) for r in rows])
    for config in configs:
        assert bundled[config.id] == pytest.approx(sequential[config.id], abs=1e-6)
    by_schedule = {(c.optimizer, c.hyper.get("schedule"), c.seed): bundled[c.id] for c in configs}
    assert by_schedule[("adamw", None, 0)] != pytest.approx(by_schedule[("adamw", "warmup-cosine", 0)], abs=1e-4)
