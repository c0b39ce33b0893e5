"""The bundled engine against the sequential one for every built-in model of the three application
areas, and for user models made of the common layers: per-epoch losses within 1e-4, BatchNorm's
running statistics (through the evaluation after each epoch) and dropout included."""

from __future__ import annotations

import pytest
from test_engines import assert_same_runs, collect, run_bundled

from initopt.study import parse_spec
from initopt.study.bundle_model import bundle_model
from initopt.study.sequential import train_sequential
from initopt.study.workload import prepare

GRID = {"init": ["he_normal", "gpt2"], "seeds": [0, 1], "optimizer": [{"name": "adamw", "lr": [3e-3], "weight_decay": [0.01]},
                                                                    {"name": "sgd", "lr": [0.05], "momentum": [0.9]}]}

# Convolutions round differently from torch's (a matrix product against oneDNN's kernel, 1e-7), and
# BatchNorm divides by a channel's batch std: a near-constant channel (std 0.02 weights, a few
# examples) amplifies that round-off. Stable settings for the CNN: He and Xavier inits.
CNN_GRID = dict(GRID, init=["he_normal", "xavier_uniform"])

WORKLOADS = [
    ("cnn2d-batchnorm", {"dataset": "digits-images", "model": "cnn2d", "channels": 8, "depth": 2, "batchnorm": True}, 64),
    ("transformer-modular", {"dataset": "modular-addition", "model": "transformer", "d_model": 16, "layers": 1,
                             "heads": 2, "data": {"p": 11, "train_fraction": 0.5}}, 16),
    ("transformer-dropout", {"dataset": "modular-addition", "model": "transformer", "d_model": 16, "layers": 2,
                             "heads": 2, "dropout": 0.1, "data": {"p": 7, "train_fraction": 0.6}}, 8),
    ("mf", {"dataset": "synthetic-ratings", "model": "mf", "dim": 8}, 128),
]


def _bundled_and_sequential(workload_table, batch_size, epochs=2, grid=GRID):
    spec = {"name": "engines", "workload": workload_table, "train": {"epochs": epochs, "batch_size": batch_size},
            "grid": grid}
    workload = prepare(parse_spec(spec))
    configs = workload.spec.configs()
    return workload, configs


@pytest.mark.parametrize("case", WORKLOADS, ids=[c[0] for c in WORKLOADS])
def test_every_built_in_model_trains_bundled_as_it_trains_alone(case):
    _, table, batch_size = case
    workload, configs = _bundled_and_sequential(table, batch_size, grid=CNN_GRID if table["model"] == "cnn2d" else GRID)
    model = bundle_model([workload.initialized_model(c) for c in configs[:2]], workload.train.x[:2], "cpu")
    assert type(model).__name__ == "FoldedBundle" and not model.generic
    assert_same_runs(collect(train_sequential, workload, configs), run_bundled(workload, configs))


def test_character_language_model_trains_bundled_as_it_trains_alone(tmp_path):
    text = tmp_path / "poem.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 30)
    table = {"dataset": f"text:{text}", "model": "transformer", "d_model": 16, "layers": 1, "heads": 2,
             "data": {"context": 16}}
    workload, configs = _bundled_and_sequential(table, 16, grid=dict(GRID, init=["gpt2"]))
    assert_same_runs(collect(train_sequential, workload, configs), run_bundled(workload, configs))


def test_the_mnist1d_papers_cnn_as_a_user_factory_trains_bundled(factory_module):
    factory_module("paper_cnn", """
        from torch import nn

        class ConvBase(nn.Module):
            def __init__(self, out, channels=25):
                super().__init__()
                self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
                self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
                self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
                self.linear = nn.Linear(channels * 5, out)

            def forward(self, x):
                x = x.view(-1, 1, x.shape[-1])
                h = self.conv3(self.conv2(self.conv1(x).relu()).relu()).relu()
                return self.linear(h.view(h.shape[0], -1))

        def build(n_features, out):
            return ConvBase(out, channels=6)
    """)
    grid = {"init": ["he_normal"], "seeds": [0, 1], "optimizer": [{"name": "adamw", "lr": [1e-3, 1e-2]}]}
    workload, configs = _bundled_and_sequential({"dataset": "mnist1d", "model": "paper_cnn:build"}, 100, epochs=1, grid=grid)
    model = bundle_model([workload.initialized_model(c) for c in configs[:2]], workload.train.x[:2], "cpu")
    assert type(model).__name__ == "FoldedBundle"
    assert_same_runs(collect(train_sequential, workload, configs), run_bundled(workload, configs))
