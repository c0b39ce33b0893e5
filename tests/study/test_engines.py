"""The bundled engine against the sequential one (each configuration through initopt.fit)."""

import importlib.util
import math

import pytest
import torch

from initopt.study import parse_spec
from initopt.study.bundle_model import NotBatchable, bundle_model
from initopt.study.engine import train_bundle
from initopt.study.plan import plan_bundles
from initopt.study.sequential import train_sequential
from initopt.study.store import Status
from initopt.study.workload import prepare

REL = 1e-4  # per-epoch losses, relative, on the CPU


def collect(run, workload, configs, **kwargs):
    rows = {}
    results = run(workload, configs, on_epoch=lambda rs: rows.update({(r.config_id, r.epoch): r for r in rs}), **kwargs)
    return rows, {r.config_id: r for r in results}


def run_bundled(workload, configs, path="fast"):
    rows, results = {}, {}
    for bundle in plan_bundles(configs, per_config_bytes=1, budget_bytes=1 << 40):
        r, res = collect(train_bundle, workload, list(bundle.configs), optimizer_path=path)
        rows.update(r)
        results.update(res)
    return rows, results


def assert_same_runs(expected, got, rel=REL):
    (rows_a, results_a), (rows_b, results_b) = expected, got
    assert rows_a.keys() == rows_b.keys()
    for key, a in rows_a.items():
        b = rows_b[key]
        for field in ("train_loss", "val_loss", "train_metric", "val_metric"):
            x, y = getattr(a, field), getattr(b, field)
            if math.isnan(x):
                assert math.isnan(y), (key, field)
            elif "loss" in field:
                assert y == pytest.approx(x, rel=rel), (key, field)
            else:  # accuracy: one example may flip on a round-off tie at most
                assert abs(x - y) <= 2 / 455, (key, field)
    for cid, a in results_a.items():
        assert results_b[cid].status == a.status and results_b[cid].epochs_run == a.epochs_run


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_bundled_equals_sequential_for_every_optimizer_family(small_spec, path):
    small_spec["grid"]["optimizer"].append({"name": "sgd", "lr": [0.01], "momentum": [0.9], "nesterov": [True]})
    small_spec["grid"]["optimizer"].append({"name": "adamw", "lr": [2e-3], "decay": ["independent"], "weight_decay": [0.01]})
    workload = prepare(parse_spec(small_spec))
    configs = workload.spec.configs()
    assert {c.optimizer for c in configs} == {"sgd", "adam", "adamw"}
    assert_same_runs(collect(train_sequential, workload, configs), run_bundled(workload, configs, path))


HAND_CASES = {
    # the hand-written backward: ReLU in place, any other activation through autograd, the loss's
    # gradient written out (bce, mse, cross_entropy) or through autograd (binary_crossentropy)
    "deep tanh": ({"model": "deep-mlp", "depth": 3, "width": 8, "activation": "tanh"}, {}),
    "gelu": ({"activation": "gelu"}, {}),
    "leaky_relu": ({"activation": "leaky_relu"}, {}),
    "linear": ({"activation": "linear"}, {}),
    "probabilities": ({}, {"loss": "binary_crossentropy"}),
    "mse": ({}, {"loss": "mse", "metric": "mse"}),
    "multiclass": ({"dataset": "digits"}, {}),
}


@pytest.mark.parametrize("case", HAND_CASES)
def test_hand_batched_bundles_equal_sequential(small_spec, case):
    workload_options, train_options = HAND_CASES[case]
    small_spec["workload"].update(workload_options)
    if small_spec["workload"]["model"] == "deep-mlp":
        small_spec["workload"].pop("hidden")
    small_spec["train"].update(train_options, epochs=2)
    small_spec["grid"]["init"] = ["xavier_normal"]
    small_spec["grid"]["optimizer"] = [{"name": "sgd", "lr": [0.01], "momentum": [0.9]}, {"name": "adamw", "lr": [1e-3]}]
    workload = prepare(parse_spec(small_spec))
    configs = workload.spec.configs()
    model = bundle_model([workload.initialized_model(c) for c in configs[:2]], workload.train.x[:2], torch.device("cpu"))
    assert type(model).__name__ == "HandBatchedMLP"
    assert_same_runs(collect(train_sequential, workload, configs), run_bundled(workload, configs))


def test_a_diverging_configuration_is_frozen_and_the_rest_train_on(small_spec):
    small_spec["grid"] = {"init": [{"name": "gaussian", "std": 1.0}], "seeds": [0],
                          "optimizer": [{"name": "sgd", "lr": [0.01, 1e4]}]}
    workload = prepare(parse_spec(small_spec))
    healthy, wild = sorted(workload.spec.configs(), key=lambda c: c.lr)
    sequential = collect(train_sequential, workload, [healthy, wild])
    bundled = collect(train_bundle, workload, [healthy, wild])
    assert sequential[1][wild.id].status == Status.DIVERGED
    assert_same_runs(sequential, bundled)
    assert bundled[1][wild.id].diverged_epoch == sequential[1][wild.id].diverged_epoch
    alone = collect(train_bundle, workload, [healthy])
    for epoch in range(1, 4):
        assert bundled[0][(healthy.id, epoch)].val_loss == pytest.approx(alone[0][(healthy.id, epoch)].val_loss, rel=1e-6)


def test_folded_path_for_a_module_that_is_not_a_plain_mlp(small_spec, factory_module):
    factory_module("resmlp_factory", """
        import torch
        from torch import nn

        class ResMLP(nn.Module):
            def __init__(self, n, out):
                super().__init__()
                self.inp = nn.Linear(n, 16)
                self.block = nn.Linear(16, 16)
                self.norm = nn.LayerNorm(16)
                self.head = nn.Linear(16, out)

            def forward(self, x):
                h = torch.tanh(self.inp(x))
                h = self.norm(h + torch.relu(self.block(h)))
                return self.head(h)

        def build(n_features, out):
            return ResMLP(n_features, out)
    """)
    small_spec["workload"] = {"dataset": "breast-cancer", "model": "resmlp_factory:build"}
    small_spec["grid"]["optimizer"] = small_spec["grid"]["optimizer"][1:]
    workload = prepare(parse_spec(small_spec))
    configs = workload.spec.configs()
    model = bundle_model([workload.initialized_model(c) for c in configs[:2]], workload.train.x[:2], torch.device("cpu"))
    assert type(model).__name__ == "FoldedBundle"
    assert_same_runs(collect(train_sequential, workload, configs), run_bundled(workload, configs))


def test_a_forward_that_mixes_the_batch_axis_goes_through_vmap(small_spec, factory_module):
    """The folded forward would mix configurations here (a mean over the batch): the check against
    the models' own outputs sends the model through vmap, which keeps each configuration apart."""
    factory_module("centred_factory", """
        import torch
        from torch import nn

        class Centred(nn.Module):
            def __init__(self, n, out):
                super().__init__()
                self.inp = nn.Linear(n, 16)
                self.head = nn.Linear(16, out)

            def forward(self, x):
                h = self.inp(x)
                return self.head(torch.tanh(h - h.mean(dim=0)))

        def build(n_features, out):
            return Centred(n_features, out)
    """)
    small_spec["workload"] = {"dataset": "breast-cancer", "model": "centred_factory:build"}
    small_spec["grid"]["optimizer"] = small_spec["grid"]["optimizer"][1:]
    workload = prepare(parse_spec(small_spec))
    configs = workload.spec.configs()
    model = bundle_model([workload.initialized_model(c) for c in configs[:2]], workload.train.x[:2], torch.device("cpu"))
    assert type(model).__name__ == "VmappedModule"
    assert_same_runs(collect(train_sequential, workload, configs), run_bundled(workload, configs))


def test_cnn1d_on_mnist1d_trains_bundled():
    spec = {"name": "cnn", "workload": {"dataset": "mnist1d", "model": "cnn1d", "channels": [8, 8]},
            "train": {"epochs": 1, "batch_size": 128},
            "grid": {"init": ["he_normal"], "seeds": [0, 1], "optimizer": [{"name": "adamw", "lr": [3e-3]}]}}
    workload = prepare(parse_spec(spec))
    configs = workload.spec.configs()
    assert_same_runs(collect(train_sequential, workload, configs), run_bundled(workload, configs))


def test_a_model_with_buffers_is_not_batchable():
    from torch import nn

    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(4))
            self.register_buffer("seen", torch.zeros(()))

        def forward(self, x):
            self.seen += 1
            return x * self.scale

    models = [nn.Sequential(nn.Linear(4, 4), Counting()) for _ in range(2)]
    with pytest.raises(NotBatchable, match=r"layer 1 \(Counting\) has buffers"):
        bundle_model(models, torch.randn(2, 4), torch.device("cpu"))


def test_lsuv_is_a_study_scheme_and_both_engines_start_from_the_same_weights(small_spec):
    small_spec["grid"]["init"] = [{"name": "lsuv", "tol": 0.05}, "he_normal"]
    small_spec["grid"]["optimizer"] = [{"name": "adam", "lr": [1e-3]}]
    workload = prepare(parse_spec(small_spec))
    configs = workload.spec.configs()
    assert {c.init["name"] for c in configs} == {"lsuv", "he_normal"}
    first, again = (workload.initialized_model(configs[0]) for _ in range(2))
    for a, b in zip(first.parameters(), again.parameters()):
        assert torch.equal(a, b)  # the LSUV batch is drawn from the configuration's seed
    assert_same_runs(collect(train_sequential, workload, configs), run_bundled(workload, configs))


def test_divergence_checked_once_per_epoch_records_the_same_results(small_spec):
    """The GPU's sync-free mode, run on the CPU: same statuses, diverged epochs and healthy curves."""
    small_spec["grid"] = {"init": [{"name": "gaussian", "std": 1.0}, "he_normal"], "seeds": [0, 1],
                          "optimizer": [{"name": "sgd", "lr": [0.01, 1e4]}, {"name": "adam", "lr": [1e-3, 50.0]}]}
    workload = prepare(parse_spec(small_spec))
    configs = list(plan_bundles(workload.spec.configs(), per_config_bytes=1, budget_bytes=1 << 40)[0].configs)
    each_step = collect(train_bundle, workload, configs, check_each_step=True)
    per_epoch = collect(train_bundle, workload, configs, check_each_step=False)
    assert any(r.status == Status.DIVERGED for r in each_step[1].values())
    assert_same_runs(each_step, per_epoch, rel=1e-6)
    for cid, result in each_step[1].items():
        assert per_epoch[1][cid].diverged_epoch == result.diverged_epoch


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="needs triton")
def test_bundled_on_the_triton_optimizer_path_equals_sequential(small_spec, monkeypatch):
    """The study engine's GPU optimizer (one Triton launch per family, per-configuration columns)
    against the sequential engine; without CUDA in Triton's interpreter."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        monkeypatch.setenv("TRITON_INTERPRET", "1")
    small_spec["train"]["epochs"] = 2
    workload = prepare(parse_spec(small_spec))
    configs = workload.spec.configs()
    rows, results = {}, {}
    for bundle in plan_bundles(configs, per_config_bytes=1, budget_bytes=1 << 40):
        r, res = collect(train_bundle, workload, list(bundle.configs), optimizer_path="triton", device=device)
        rows.update(r)
        results.update(res)
    assert_same_runs(collect(train_sequential, workload, configs), (rows, results))


def test_cuda_graph_is_refused_where_it_cannot_replay(small_spec):
    workload = prepare(parse_spec(small_spec))
    with pytest.raises(ValueError, match="cuda_graph needs a CUDA device"):
        train_bundle(workload, workload.spec.configs()[:2], cuda_graph=True)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_steps_replayed_from_cuda_graphs_record_what_eager_steps_record(small_spec):
    """Graph replay of every step (one graph per batch size: full steps and the short last one)
    against the same bundle run eagerly, with a divergence (a re-capture after the freeze) in the grid."""
    small_spec["grid"]["optimizer"].append({"name": "sgd", "lr": [1e4]})
    workload = prepare(parse_spec(small_spec))
    configs = list(plan_bundles(workload.spec.configs(), per_config_bytes=1, budget_bytes=1 << 40)[0].configs)
    eager = collect(train_bundle, workload, configs, device="cuda", cuda_graph=False)
    graph = collect(train_bundle, workload, configs, device="cuda", cuda_graph=True)
    assert_same_runs(eager, graph, rel=1e-6)
    assert_same_runs(collect(train_sequential, workload, configs), graph)
