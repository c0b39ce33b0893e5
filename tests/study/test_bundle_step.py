"""A folded bundle's step: gradients that layers hand back in the same buffers every step are bound to
the optimizer, and the steps are the same as with the gradients passed every time; the evaluation's
chunk is measured per model."""

from __future__ import annotations

import torch
from torch import nn

from initopt.optim.batched import BatchedOptimizer
from initopt.study.bundle_step import BundleStep
from initopt.study.bundled.model import EVAL_ELEMENTS, FoldedBundle
from initopt.study.data_order import DataOrder

K, SEEDS = 3, [0, 1, 2]


class Ratings(nn.Module):
    """A user-item dot product of embeddings: every parameter's gradient is a reused buffer."""

    def __init__(self):
        super().__init__()
        self.user, self.item = nn.Embedding(10, 4), nn.Embedding(7, 4)

    def forward(self, x):
        return (self.user(x[:, 0]) * self.item(x[:, 1])).sum(-1, keepdim=True)


def _bundle(make):
    models = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        models.append(make())
    model = FoldedBundle(models, SEEDS, torch.device("cpu"))
    hypers = [{"name": "adamw", "lr": lr, "weight_decay": 0.01} for lr in (1e-2, 3e-2, 1e-1)]
    optimizer = BatchedOptimizer(list(model.params.values()), hypers)
    return model, optimizer


def _batch(step):
    g = torch.Generator().manual_seed(step)
    return torch.stack([torch.randint(0, 7, (K, 5, 1), generator=g).squeeze(-1)] * 2, -1), torch.randn(K, 5, 1, generator=g)


def _steps(make, bind: bool, steps=4, move_at=None):
    """Steps of a bundle of ``make()`` models; ``bind``: through ``BundleStep.update`` (else the
    gradients passed every time); ``move_at``: the step whose gradients are copied to new tensors."""
    model, optimizer = _bundle(make)
    order = DataOrder(SEEDS, 5, 5, torch.device("cpu"))
    runner = BundleStep(model, optimizer, None, None, None, torch.zeros(5, 2), torch.zeros(5), order, False)
    bound = []
    for step in range(steps):
        x, y = _batch(step)
        loss = ((model.forward(x) - y) ** 2).mean(dim=(1, 2)).sum()
        grads = torch.autograd.grad(loss, runner.params)
        if step == move_at:
            grads = tuple(g.clone() for g in grads)
        runner.update(grads) if bind else optimizer.step(grads)
        bound.append(runner.bound)
    return [p.detach().clone() for p in model.params.values()], bound


def test_reused_gradient_buffers_are_bound_after_two_steps_and_step_as_when_passed():
    passed, _ = _steps(Ratings, bind=False)
    bound_params, bound = _steps(Ratings, bind=True)
    assert bound == [False, True, True, True]
    for a, b in zip(passed, bound_params):
        assert torch.equal(a, b)


def test_gradients_at_new_addresses_release_the_bound_ones():
    passed, _ = _steps(Ratings, bind=False, steps=5)
    params, bound = _steps(Ratings, bind=True, steps=5, move_at=2)
    assert bound == [False, True, False, False, True]
    for a, b in zip(passed, params):
        assert torch.equal(a, b)


def test_fresh_gradients_are_never_bound():
    _, bound = _steps(lambda: nn.Sequential(nn.Embedding(7, 4), nn.Flatten(), nn.Linear(8, 1)), bind=True)
    assert bound == [False] * 4


def test_the_evaluation_chunk_keeps_the_largest_layer_output_within_its_budget():
    wide, _ = _bundle(lambda: nn.Sequential(nn.Linear(2, 4096), nn.ReLU(), nn.Linear(4096, 1)))
    narrow, _ = _bundle(lambda: nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)))
    x = torch.randn(100_000, 2)
    wide_chunk, narrow_chunk = wide.eval_batch(x), narrow.eval_batch(x)
    assert wide_chunk * K * 4096 <= EVAL_ELEMENTS < (wide_chunk + 1) * K * 4096
    assert narrow_chunk * K * 4 <= EVAL_ELEMENTS < (narrow_chunk + 1) * K * 4
