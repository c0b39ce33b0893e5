"""``[execution]`` and the flags of ``initopt study run`` that say where a study runs."""

import pytest

from initopt.study.execution import Execution
from initopt.study.spec import SpecError, load_spec, parse_spec


def raw(**execution):
    return {"name": "s", "workload": {"dataset": "seed-binary", "model": "mlp"},
            "grid": {"init": ["he_normal"], "optimizer": [{"name": "adamw", "lr": [1e-3]}]}, "execution": execution}


def test_the_table_is_read_and_changes_no_configuration():
    spec = parse_spec(raw(ray="auto", cpus_per_bundle=2, gpus_per_bundle=0.5, max_retries=1))
    assert spec.execution == Execution("auto", 2.0, 0.5, 1)
    plain = dict(raw())
    del plain["execution"]
    resolved = {"train": {"loss": "bce", "metric": "accuracy"}}
    assert [c.id for c in load_spec({**raw(ray="auto"), **resolved}).configs()] == \
           [c.id for c in load_spec({**plain, **resolved}).configs()]
    assert "execution" not in spec.to_dict()  # not part of the stored study


@pytest.mark.parametrize("table, message", [
    ({"gpus_per_bundle": -1}, "execution.gpus_per_bundle: expected a number >= 0, got -1"),
    ({"cpus_per_bundle": "two"}, "execution.cpus_per_bundle: expected a number >= 0, got 'two'"),
    ({"max_retries": 1.5}, "execution.max_retries: expected a whole number >= 0, got 1.5"),
    ({"ray": ""}, "execution.ray: expected \"auto\", \"local\" or HOST:PORT of a Ray cluster, got ''"),
    ({"cpus_per_bundle": 0}, "execution.cpus_per_bundle: a bundle needs a CPU or a GPU: both are 0"),
    ({"nodes": 2}, "execution.nodes: unknown field; valid: ray, cpus_per_bundle, gpus_per_bundle, max_retries"),
])
def test_bad_settings_name_their_field(table, message):
    with pytest.raises(SpecError, match="^spec: " + message.replace("(", r"\(").replace(")", r"\)")):
        parse_spec(raw(**table))


def test_flags_override_the_table_and_name_themselves():
    spec = parse_spec(raw(ray="auto", cpus_per_bundle=2))
    assert spec.execution.with_flags(ray="10.0.0.1:6379") == Execution("10.0.0.1:6379", 2.0, None, 3)
    assert spec.execution.with_flags(gpus=0.25) == Execution("auto", 2.0, 0.25, 3)
    with pytest.raises(ValueError, match="^--gpus-per-bundle: expected a number >= 0, got -1"):
        spec.execution.with_flags(gpus=-1)
