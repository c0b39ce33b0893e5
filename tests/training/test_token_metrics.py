"""Per-token cross-entropy and accuracy (outputs (B, T, V) against targets (B, T)), and the metrics
whose value over a split is a function of a mean (rmse, perplexity), exact however the split is batched."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from initopt.study.tally import DeferredTally, RunningTally
from initopt.training import evaluate, get_metric
from initopt.training.batched import batched_loss, batched_metric
from initopt.training.losses import cross_entropy
from initopt.training.metrics import accuracy
from initopt.training.objective import ObjectiveError, check_objective

torch.manual_seed(0)
B, T, V, K = 9, 5, 7, 3
LOGITS, TOKENS = torch.randn(B, T, V), torch.randint(0, V, (B, T))


def test_per_token_cross_entropy_is_torchs_over_every_position():
    expected = F.cross_entropy(LOGITS.reshape(-1, V), TOKENS.reshape(-1))
    torch.testing.assert_close(cross_entropy(LOGITS, TOKENS), expected)
    # PyTorch's own layout for sequences puts the classes on axis 1: the same number
    torch.testing.assert_close(cross_entropy(LOGITS, TOKENS), F.cross_entropy(LOGITS.transpose(1, 2), TOKENS))


def test_cross_entropy_of_one_class_per_example_is_unchanged():
    logits, classes = torch.randn(B, V), torch.randint(0, V, (B,))
    assert torch.equal(cross_entropy(logits, classes), F.cross_entropy(logits, classes))


def test_batched_cross_entropy_of_one_class_per_example_is_unchanged():
    """(K, B, C) against (K, B): bit for bit what the engine computed before per-token targets."""
    output, target = torch.randn(K, B, V), torch.randint(0, V, (K, B))
    before = F.cross_entropy(output.reshape(K * B, V), target.reshape(K * B), reduction="none").reshape(K, B).mean(1)
    assert torch.equal(batched_loss("cross_entropy")(output, target), before)


def test_batched_per_token_cross_entropy_and_accuracy_are_each_configurations():
    output, target = torch.randn(K, B, T, V), torch.randint(0, V, (K, B, T))
    losses = batched_loss("cross_entropy")(output, target)
    _, acc = batched_metric("accuracy", "cross_entropy")
    for k in range(K):
        torch.testing.assert_close(losses[k], F.cross_entropy(output[k].reshape(-1, V), target[k].reshape(-1)))
        torch.testing.assert_close(acc(output, target)[k], (output[k].argmax(-1) == target[k]).float().mean())


def test_accuracy_per_token():
    assert accuracy(LOGITS, TOKENS).item() == pytest.approx((LOGITS.argmax(-1) == TOKENS).float().mean().item())


class Table(torch.nn.Module):
    """A 'model' that looks up a fixed output per example: x is the example's index."""

    def __init__(self, outputs: torch.Tensor):
        super().__init__()
        self.outputs = torch.nn.Parameter(outputs.clone())

    def forward(self, x):
        return self.outputs[x]


@pytest.mark.parametrize("batch_size", [1, 4, 9, 1024])
def test_perplexity_over_a_split_is_exp_of_the_mean_token_cross_entropy(batch_size):
    model = Table(LOGITS)
    got = evaluate(model, (torch.arange(B), TOKENS), loss="cross_entropy", metrics=["perplexity", "accuracy"],
                   batch_size=batch_size)
    expected = F.cross_entropy(LOGITS.reshape(-1, V), TOKENS.reshape(-1)).item()
    assert got["loss"] == pytest.approx(expected, rel=1e-6)
    assert got["perplexity"] == pytest.approx(math.exp(expected), rel=1e-6)
    assert got["accuracy"] == pytest.approx((LOGITS.argmax(-1) == TOKENS).float().mean().item(), rel=1e-6)


@pytest.mark.parametrize("batch_size", [1, 4, 9, 1024])
def test_rmse_over_a_split_is_the_root_of_its_mean_squared_error(batch_size):
    predictions, ratings = torch.randn(B, 1) * 3, torch.randn(B)
    got = evaluate(Table(predictions), (torch.arange(B), ratings), loss="mse", metrics=["rmse", "mse"], batch_size=batch_size)
    mse = ((predictions[:, 0] - ratings) ** 2).mean().item()
    assert got["mse"] == pytest.approx(mse, rel=1e-6)
    assert got["rmse"] == pytest.approx(math.sqrt(mse), rel=1e-6)


def test_metric_on_one_batch_and_its_parts():
    rmse = get_metric("rmse")
    predictions, ratings = torch.randn(B), torch.randn(B)
    mse = ((predictions - ratings) ** 2).mean()
    torch.testing.assert_close(rmse(predictions, ratings), mse.sqrt())
    torch.testing.assert_close(rmse.mean(predictions, ratings), mse)
    assert rmse.final(4.0) == 2.0 and get_metric("ppl").name == "perplexity"


@pytest.mark.parametrize("loss, metric, finish", [("mse", "rmse", torch.sqrt), ("cross_entropy", "perplexity", torch.exp)])
def test_tallies_finish_the_epochs_mean(loss, metric, finish):
    """21 examples in batches of 4 (a short last step): the epoch's value is finish(mean over all
    examples), the same from the running and the deferred tally."""
    torch.manual_seed(2)
    k, n, batch_size = 2, 21, 4
    order = torch.stack([torch.randperm(n) for _ in range(k)])
    if loss == "mse":
        y, outputs = torch.randn(n), torch.randn(k, n, 1)
    else:
        y, outputs = torch.randint(0, V, (n, T)), torch.randn(k, n, T, V)
    loss_fn, (_, metric_fn) = batched_loss(loss), batched_metric(metric, loss)
    running = RunningTally(k, n, metric_fn, torch.device("cpu"))
    deferred = DeferredTally(k, n, batch_size, outputs[0, 0], y, loss_fn, metric_fn)
    for tally in (running, deferred):
        tally.start(order)
        for start in range(0, n, batch_size):
            output, target = outputs[:, start : start + batch_size], y[order[:, start : start + batch_size]]
            tally.record(start, loss_fn(output, target), output, target)
    expected = finish(batched_loss(loss)(outputs, y[order]).double())  # the mean over the whole epoch at once
    for tally in (running, deferred):
        _, value = tally.finish()
        torch.testing.assert_close(value, expected, rtol=1e-6, atol=0)


def test_check_objective_takes_per_token_targets():
    assert check_objective("cross_entropy", "accuracy", "multiclass", LOGITS[:2], TOKENS[:2]) == ("cross_entropy", "accuracy")
    assert check_objective("cross_entropy", "PPL", "multiclass", LOGITS[:2], TOKENS[:2]) == ("cross_entropy", "perplexity")
    assert check_objective("mse", "rmse", "regression", torch.randn(2, 1), torch.randn(2)) == ("mse", "rmse")


@pytest.mark.parametrize(
    "loss, metric, task, output, target, field, fragment",
    [
        ("mse", "perplexity", "regression", torch.randn(2, 1), torch.randn(2), "metric", "perplexity is exp of a cross-entropy"),
        ("bce", "perplexity", "binary", torch.randn(2, 1), torch.ones(2), "metric", "needs a multiclass task"),
        ("mse", "accuracy", "regression", torch.randn(2, 1), torch.randn(2), "metric", "use mse or rmse"),
        ("cross_entropy", "accuracy", "multiclass", torch.randn(2, T, V), torch.randint(0, V, (2,)), "loss", "does not fit"),
    ],
)
def test_check_objective_refuses(loss, metric, task, output, target, field, fragment):
    with pytest.raises(ObjectiveError) as err:
        check_objective(loss, metric, task, output, target)
    assert err.value.field == field and fragment in str(err.value)
