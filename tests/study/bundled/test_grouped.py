"""Runs of convolution, batch norm, activation and pooling in an nn.Sequential computed in the grouped
layout (study/bundled/grouped.py): the same numbers as K separate models, and which runs are taken."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initopt.study.bundled import FoldedBundle
from initopt.study.bundled.grouped import GroupedSequential, grouped_runs

K, B = 3, 4


def _cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 3, 3, padding=1), nn.BatchNorm2d(3, momentum=None), nn.GELU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(3, 2),
    )


def _models(factory) -> list[nn.Module]:
    torch.manual_seed(0)
    models = [factory() for _ in range(K)]
    with torch.no_grad():
        for model in models:
            for p in model.parameters():
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if p.dim() == 1 else 0.0))
    return models


@pytest.mark.parametrize("steps", [2])
def test_a_grouped_run_trains_as_k_separate_models(steps):
    models = _models(_cnn)
    bundle = FoldedBundle(models, seeds=range(K), device=torch.device("cpu"))
    assert isinstance(bundle.module, GroupedSequential) and bundle.module.runs == [(0, 8)]
    assert list(bundle.params) == [name for name, _ in models[0].named_parameters()]  # the user's names
    for _ in range(steps):  # running statistics move: the second step's eval reads the first's
        x = torch.randn(K, B, 2, 8, 8)
        got = bundle.forward(x)
        expected = torch.stack([m.train()(xk) for m, xk in zip(models, x)])
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
        weights = torch.randn_like(got)
        grads = torch.autograd.grad(got.mul(weights).sum(), list(bundle.params.values()))
        expected_grads = torch.autograd.grad(expected.mul(weights).sum(), [p for m in models for p in m.parameters()])
        names = list(bundle.params)
        for i, (name, grad) in enumerate(zip(names, grads)):
            separate = torch.stack(expected_grads[i :: len(names)])
            torch.testing.assert_close(grad, separate, atol=1e-5, rtol=1e-5, msg=name)
        for name, buffer in bundle.module.named_buffers():
            if buffer.dim():
                separate = torch.stack([dict(m.named_buffers())[name] for m in models])
                torch.testing.assert_close(buffer, separate, atol=1e-6, rtol=1e-6, msg=name)
        x_eval = torch.randn(6, 2, 8, 8)
        with torch.no_grad():
            torch.testing.assert_close(bundle.forward_shared(x_eval), torch.stack([m.eval()(x_eval) for m in models]),
                                       atol=1e-5, rtol=1e-5)


def _bundled_layers(*modules: nn.Module) -> list[nn.Module]:
    bundle = FoldedBundle([nn.Sequential(*modules)] * 2, seeds=[0, 1], device=torch.device("cpu"))
    return list(bundle.module._modules.values())


@pytest.mark.parametrize(
    "modules, runs",
    [
        ((nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()), [(0, 3)]),
        ((nn.ReLU(), nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2, 1)), [(0, 3)]),
        ((nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten()), []),  # one layer alone: nothing saved
        ((nn.Conv2d(1, 2, 3), nn.Dropout(0.1), nn.BatchNorm2d(2)), []),  # per-configuration draws break a run
        ((nn.MaxPool2d(2), nn.ReLU(), nn.MaxPool2d(2)), []),  # no parameters: only copies to add
        ((nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2)), []),  # the 1-D convolution has its own layout
        ((nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 2), nn.BatchNorm1d(2), nn.ReLU()), [(0, 2)]),
    ],
)
def test_which_runs_go_through_the_grouped_layout(modules, runs):
    assert grouped_runs(_bundled_layers(*modules)) == runs
