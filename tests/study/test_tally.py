"""The epoch's training loss and metric kept step by step against computed at the epoch's end."""

import pytest
import torch

from initopt.study.tally import DeferredTally, RunningTally
from initopt.training.batched import batched_loss, batched_metric


def tallies(loss, metric, outputs, y, order, batch_size):
    k, n = order.shape
    loss_fn, (_, metric_fn) = batched_loss(loss), batched_metric(metric, loss)
    running = RunningTally(k, n, metric_fn, torch.device("cpu"))
    deferred = DeferredTally(k, n, batch_size, outputs[0, 0], y, loss_fn, metric_fn)
    for tally in (running, deferred):
        tally.start(order)
        for start in range(0, n, batch_size):
            output = outputs[:, start : start + batch_size]
            target = y[order[:, start : start + batch_size]]
            tally.record(start, loss_fn(output, target), output, target)
    return running.finish(), deferred.finish()


@pytest.mark.parametrize("loss, metric, scale", [("bce", "accuracy", 3.0), ("mse", "mse", 1.0), ("mse", "mse", 1.5e18)])
def test_deferred_tally_equals_the_running_one(loss, metric, scale):
    """45 examples in batches of 8 (a short last step); at 1.5e18 a float32 mean over the whole epoch
    would overflow where each step's does not."""
    torch.manual_seed(0)
    k, n, batch_size = 3, 45, 8
    order = torch.stack([torch.randperm(n) for _ in range(k)])
    y = (torch.rand(n) > 0.5).float()
    outputs = torch.randn(k, n, 1) * scale
    (loss_a, metric_a), (loss_b, metric_b) = tallies(loss, metric, outputs, y, order, batch_size)
    assert torch.isfinite(loss_b).all()
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-12, atol=0)
    torch.testing.assert_close(metric_b, metric_a, rtol=1e-12, atol=0)


def test_deferred_tally_for_multiclass_targets():
    torch.manual_seed(1)
    k, n, batch_size = 2, 20, 6
    order = torch.stack([torch.randperm(n) for _ in range(k)])
    y = torch.randint(0, 4, (n,))
    outputs = torch.randn(k, n, 4)
    (loss_a, metric_a), (loss_b, metric_b) = tallies("cross_entropy", "accuracy", outputs, y, order, batch_size)
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-12, atol=0)
    torch.testing.assert_close(metric_b, metric_a, rtol=1e-12, atol=0)


def test_deferred_tally_is_refused_above_its_memory_cap():
    y = torch.zeros(10)
    assert DeferredTally.fits(4, 10, torch.zeros(1), y)
    assert not DeferredTally.fits(10**6, 10**4, torch.zeros(10), y)
