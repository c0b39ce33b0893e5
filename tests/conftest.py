"""Shared fixtures. Tiny models run fastest on one thread, and the suite must not fight itself for cores."""

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def xor_data():
    """A small binary task a 1-hidden-layer MLP can learn: the sign of x0 * x1."""
    g = torch.Generator().manual_seed(123)
    x = torch.randn(512, 8, generator=g)
    y = (x[:, 0] * x[:, 1] > 0).float()
    return x, y
