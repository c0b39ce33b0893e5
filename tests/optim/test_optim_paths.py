"""initopt.optim.paths: the one place that chooses an optimizer step's path, and says why."""

from __future__ import annotations

import pytest
import torch

import initopt.optim as optim
from initopt.optim.paths import bundle_path, default_fused, describe, step_path


def _params():
    return [torch.nn.Parameter(torch.zeros(3, 2)), torch.nn.Parameter(torch.zeros(2))]


@pytest.mark.parametrize("kwargs, path, reason", [
    ({"foreach": None, "fused": None, "differentiable": False}, "single", "default on the CPU"),
    ({"foreach": True, "fused": None, "differentiable": False}, "foreach", "foreach=True"),
    ({"foreach": False, "fused": None, "differentiable": False}, "single", "foreach=False"),
    ({"foreach": None, "fused": None, "differentiable": True}, "single", "differentiable=True"),
    ({"foreach": None, "fused": None, "differentiable": False, "tensor_hyperparameters": True}, "single", "tensor"),
    ({"foreach": None, "fused": True, "differentiable": False}, "fused", "fused=True"),
    ({"foreach": None, "fused": None, "differentiable": False, "low_precision": True}, "fused", "another dtype"),
])
def test_each_rule_names_itself(kwargs, path, reason):
    decision = step_path(_params(), **kwargs)
    assert decision.path == path and reason in decision.why
    assert (decision.implementation is not None) == (path == "fused")


def test_the_cpu_keeps_torchs_defaults_everywhere():
    group = {"params": _params(), "fused": None, "foreach": None, "differentiable": False}
    assert default_fused(group) is None
    assert bundle_path("cpu").path == "fast"
    assert step_path(_params(), foreach=None, fused=True, differentiable=False).implementation == "torch"
    lines = describe(optim.AdamW(_params(), fused=True))
    assert lines == ["group 0 (2 tensors): fused (torch): fused=True"]
    assert "steps tensor by tensor" in describe(optim.Lion(_params()))[0]
