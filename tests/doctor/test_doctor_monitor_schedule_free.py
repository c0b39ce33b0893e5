"""TrainingMonitor under Schedule-Free AdamW: each step is measured from the weights it started from (y),
not from the average x that ``fit`` leaves in the parameters between epochs and between calls."""

from __future__ import annotations

import copy

import pytest
import torch

from initopt.doctor import TrainingMonitor
from initopt.doctor.monitor import update_ratio
from initopt.models import mlp
from initopt.optim import ScheduleFreeAdamW
from initopt.training import fit
from initopt.training.losses import bce


def test_the_first_step_of_a_second_fit_is_measured_from_y():
    torch.manual_seed(0)
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(1))
    y = (x[:, 0] * x[:, 1] > 0).float()
    model = mlp(8, [16], 1)
    opt = ScheduleFreeAdamW(model.parameters(), lr=0.05)
    fit(model, opt, (x, y), loss="bce", epochs=2, batch_size=64, verbose=0)  # ends holding x
    reference, ref_opt = copy.deepcopy((model, opt))
    ref_opt.train()
    before = reference[0].weight.detach().clone()
    ref_opt.zero_grad()
    bce(reference(x), y).backward()
    ref_opt.step()
    monitor = TrainingMonitor()
    fit(model, opt, (x, y), loss="bce", epochs=1, batch_size=64, shuffle=False, verbose=0, callbacks=[monitor])
    first = next(r for r in monitor.records if r.parameter == "0.weight")
    assert first.update_ratio == pytest.approx(update_ratio(before, reference[0].weight.detach()), rel=1e-6)
