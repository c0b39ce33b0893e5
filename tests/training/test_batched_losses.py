"""Losses and metrics of K configurations at once against the per-configuration ones, and the
written-out loss gradients against autograd."""

import pytest
import torch

from initopt.training.batched import batched_loss, batched_loss_gradient, batched_metric
from initopt.training.losses import get_loss

torch.manual_seed(0)
K, B = 4, 7

CASES = {
    "bce, one logit per example": ("bce", torch.randn(K, B, 1), (torch.rand(K, B) > 0.5).float()),
    "bce, flat logits": ("bce", torch.randn(K, B), (torch.rand(K, B) > 0.5).float()),
    "mse, one output": ("mse", torch.randn(K, B, 1), torch.randn(K, B)),
    "mse, three outputs": ("mse", torch.randn(K, B, 3), torch.randn(K, B, 3)),
    "cross_entropy": ("cross_entropy", torch.randn(K, B, 5), torch.randint(0, 5, (K, B))),
    "cross_entropy per token": ("cross_entropy", torch.randn(K, B, 6, 5), torch.randint(0, 5, (K, B, 6))),
}


@pytest.mark.parametrize("case", CASES)
def test_batched_loss_is_the_loss_of_each_configuration(case):
    name, output, target = CASES[case]
    got = batched_loss(name)(output, target)
    for k in range(K):
        assert got[k] == pytest.approx(get_loss(name)(output[k], target[k]).item(), rel=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_written_out_loss_gradient_is_autograds(case):
    name, output, target = CASES[case]
    leaf = output.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(batched_loss(name)(leaf, target).sum(), leaf)
    got = batched_loss_gradient(name)(output.clone(), target)
    assert got.shape == output.shape
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-8)


def test_losses_without_a_written_out_gradient_go_through_autograd():
    assert batched_loss_gradient("binary_crossentropy") is None
    assert batched_loss_gradient(lambda o, t: ((o - t) ** 2).mean()) is None


def test_batched_accuracy_over_an_epoch_is_the_weighted_mean_of_its_batches():
    """What the study engine's deferred tally relies on: a mean over examples, batch by batch or at once."""
    _, accuracy = batched_metric("accuracy", "bce")
    output, target = torch.randn(K, 10, 1), (torch.rand(K, 10) > 0.5).float()
    whole = accuracy(output, target)
    parts = (accuracy(output[:, :8], target[:, :8]) * 8 + accuracy(output[:, 8:], target[:, 8:]) * 2) / 10
    torch.testing.assert_close(whole, parts)
