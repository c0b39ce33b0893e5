"""LSUV (Mishkin & Matas 2016): every layer's output variance within tol; the scheme ``lsuv`` for studies."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import initopt.init as ii
from initopt.doctor import Verdict, diagnose
from initopt.models import CNN1d, deep_mlp


def output_variances(model: nn.Module, batch: torch.Tensor) -> dict[str, float]:
    """Each Linear/Conv layer's output variance at its first call, measured independently (eval mode)."""
    found: dict[str, float] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            def hook(m, i, out, name=name):
                found.setdefault(name, float(out.double().var(correction=0)))
            handles.append(module.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(batch)
    for handle in handles:
        handle.remove()
    return found


def noisy_biases(model: nn.Module) -> nn.Module:
    """Non-zero biases: the variance is no longer exactly proportional to W^2, so LSUV must iterate."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv1d)):
                module.bias.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(1))
    return model


MODELS = [
    ("relu_mlp_30", lambda: deep_mlp(20, 30, 64, 1), lambda: torch.randn(256, 20)),
    ("tanh_mlp_biases", lambda: noisy_biases(deep_mlp(20, 12, 48, 3, "tanh")), lambda: torch.randn(256, 20)),
    ("relu_mlp_biases", lambda: noisy_biases(deep_mlp(20, 12, 48, 3)), lambda: 3 * torch.randn(256, 20) + 1),
    ("cnn1d", lambda: noisy_biases(CNN1d(40, 10)), lambda: torch.randn(128, 40)),
    ("cnn2d_batchnorm", lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                                              nn.Flatten(), nn.Linear(8 * 4 * 4, 5)), lambda: torch.randn(64, 3, 8, 8)),
]


@pytest.mark.parametrize("tol", [0.1, 0.01])
@pytest.mark.parametrize(("name", "build", "data"), MODELS, ids=[m[0] for m in MODELS])
def test_every_layer_output_variance_is_within_tol(name, build, data, tol):
    torch.manual_seed(0)
    model, batch = build(), data()
    result = ii.lsuv(model, batch, tol=tol, seed=0)
    assert result.converged, result
    layers = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]
    assert [layer.name for layer in result.layers] == layers
    variances = output_variances(model, batch)
    assert set(variances) == set(layers)
    for layer in layers:
        assert abs(variances[layer] - 1) < tol, (layer, variances[layer])
    assert all(layer.iterations <= result.max_iter for layer in result.layers)


def test_biases_make_it_iterate_and_zero_biases_take_one_step():
    model, batch = noisy_biases(deep_mlp(20, 12, 48, 3)), 3 * torch.randn(256, 20) + 1
    assert max(layer.iterations for layer in ii.lsuv(model, batch, tol=0.01, seed=0).layers) >= 2
    zero_bias = deep_mlp(20, 12, 48, 3)
    ii.initialize(zero_bias, "he_normal", seed=0)
    result = ii.lsuv(zero_bias, batch, tol=0.01, seed=0)
    assert all(layer.iterations <= 1 for layer in result.layers)  # Var(out) is exactly proportional to W^2


def test_max_iter_bounds_the_rescalings_and_unconverged_layers_are_reported():
    model = deep_mlp(4, 2, 8, 1)
    nn.init.zeros_(model[2].weight)  # zero output: no scale makes its variance 1
    nn.init.zeros_(model[2].bias)
    result = ii.lsuv(model, torch.randn(64, 4), orthogonal_init=False, max_iter=1)
    stuck = next(layer for layer in result.layers if layer.name == "2")
    assert not stuck.converged and stuck.iterations == 0 and stuck.variance_after == 0.0
    assert not result.converged and "NOT converged" in str(result)


def test_orthogonal_pre_initialization_seeded_and_global_rng_untouched():
    batch = torch.randn(128, 32)
    torch.manual_seed(0)
    a = deep_mlp(32, 3, 32, 1)
    torch.manual_seed(0)
    b = deep_mlp(32, 3, 32, 1)  # same biases (LSUV leaves them as they are)
    state = torch.get_rng_state()
    ii.lsuv(a, batch, seed=7)
    ii.lsuv(b, batch, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    for (key, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), key
    w = a[2].weight.detach()  # square: orthogonal up to the one LSUV scale
    gram = w @ w.T
    assert torch.allclose(gram, gram[0, 0] * torch.eye(32), atol=1e-5)


def test_modes_are_restored_and_running_stats_untouched():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 2))
    model.train()
    ii.lsuv(model, torch.randn(32, 4))
    assert all(m.training for m in model.modules())
    assert torch.equal(model[1].running_mean, torch.zeros(8)) and int(model[1].num_batches_tracked) == 0


def test_attention_out_proj_is_reported_skipped():
    result = ii.lsuv(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), torch.randn(8, 5, 16))
    assert result.skipped == ["self_attn.out_proj"]
    assert [layer.name for layer in result.layers] == ["linear1", "linear2"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"tol": 0}, "tol must be > 0"), ({"max_iter": 0}, "max_iter must be a whole number >= 1"),
     ({"max_iter": 2.5}, "max_iter"), ({"seed": "x"}, "seed")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ii.lsuv(deep_mlp(3, 1, 4, 1), torch.randn(4, 3), **kwargs)


# -- the scheme "lsuv" --------------------------------------------------------------------------
def test_scheme_by_name_with_params_and_spec_round_trip():
    scheme = ii.get("LSUV", tol=0.05)
    assert scheme.spec() == {"name": "lsuv", "tol": 0.05, "max_iter": 10}
    assert ii.get(scheme.spec()) == scheme and ii.needs_batch(scheme) and not ii.needs_batch(ii.get("he_normal"))
    assert scheme.std(64, 64) is None  # data-dependent
    with pytest.raises(ValueError, match="init scheme 'lsuv': max_iter must be a whole number >= 1"):
        ii.get({"name": "lsuv", "max_iter": 0})
    with pytest.raises(ValueError, match="unknown parameter 'tl' for init scheme 'lsuv'"):
        ii.get("lsuv", tl=0.1)


def test_initialize_without_data_refuses_a_scheme_that_needs_it():
    model = deep_mlp(16, 2, 16, 1)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"weights='lsuv' rescales each layer on a batch of training inputs: pass them as data="):
        ii.initialize(model, "lsuv", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))  # nothing drawn
    # the rescaling needs the data; the draw before it is the orthogonal one
    a, b = deep_mlp(16, 2, 16, 1), deep_mlp(16, 2, 16, 1)
    ii.initialize(a, "lsuv", seed=3, data=torch.randn(64, 16))
    ii.initialize(b, "orthogonal", seed=3)
    assert torch.allclose(a[0].weight / a[0].weight.norm(), b[0].weight / b[0].weight.norm())


def test_data_is_ignored_by_schemes_that_need_none():
    a, b = deep_mlp(16, 3, 16, 1), deep_mlp(16, 3, 16, 1)
    summary = ii.initialize(a, ii.get("he_normal"), data=torch.full((1,), float("nan")), seed=4)
    assert summary.rows == ii.initialize(b, "he_normal", seed=4).rows  # data not even read
    for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_initialize_with_data_runs_lsuv_on_a_seeded_batch():
    data = torch.randn(1000, 20)
    models = [deep_mlp(20, 30, 64, 1) for _ in range(3)]
    summaries = [ii.initialize(m, ii.get({"name": "lsuv"}), "zeros", data=data, seed=s)
                 for m, s in zip(models, (0, 0, 1))]
    assert torch.equal(models[0][0].weight, models[1][0].weight)  # same seed: same model
    assert not torch.equal(models[0][0].weight, models[2][0].weight)
    variances = output_variances(models[0], data[torch.randperm(1000, generator=torch.Generator().manual_seed(0))[:256]])
    assert all(abs(v - 1) < 0.1 for v in variances.values())
    row = summaries[0].rows[0]
    assert row.scheme == "lsuv(tol=0.1, max_iter=10)" and row.expected_std is None
    assert row.actual_std == pytest.approx(float(models[0][0].weight.detach().double().std(correction=0)))
    # and the doctor agrees: a 30-layer ReLU MLP after LSUV is healthy
    assert diagnose(models[0], data[:256]).verdict is Verdict.HEALTHY


def test_lsuv_module_imports_neither_the_registry_nor_initialize():
    """One entry point: ``initialize`` (apply.py) runs LSUV's data step; lsuv.py only provides it."""
    import ast
    import importlib.util
    from pathlib import Path

    tree = ast.parse(Path(importlib.util.find_spec("initopt.init.lsuv").origin).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"initopt.init.registry", "initopt.init.apply"}
