"""TrainingMonitor: per weight, update-to-weight ratio and gradient norm each epoch, in History, flagged."""

from __future__ import annotations

import math

import pytest
import torch

from initopt.doctor import RatioFlag, TrainingMonitor
from initopt.doctor.monitor import flag_of, update_ratio
from initopt.models import mlp
from initopt.training import fit


def model_and_data(seed: int = 0):
    torch.manual_seed(seed)
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(1))
    y = (x[:, 0] * x[:, 1] > 0).float()
    return mlp(8, [16], 1), x, y


WEIGHTS = ("0.weight", "2.weight")


def test_records_every_weight_every_epoch_aligned_with_history():
    model, x, y = model_and_data()
    monitor = TrainingMonitor()
    history = fit(model, torch.optim.SGD(model.parameters(), lr=0.05), (x, y), loss="bce", epochs=3, batch_size=16,
                  callbacks=[monitor], verbose=0)
    for name in WEIGHTS:
        for key in (f"update_ratio/{name}", f"grad_norm/{name}"):
            values = history.history[key]
            assert len(values) == history.epochs == 3 and all(math.isfinite(v) and v > 0 for v in values), key
    assert len(history.history["monitor_flags"]) == 3 and len(history.history["loss"]) == 3
    assert len(monitor.records) == 3 * len(WEIGHTS) and all(r.steps == 4 for r in monitor.records)
    assert "0.bias" not in {r.parameter for r in monitor.records}  # weights (>= 2-D) only


def test_one_step_ratio_is_lr_times_grad_norm_over_weight_norm():
    model, x, y = model_and_data()
    w0 = model[0].weight.detach().clone()
    lr = 0.1
    monitor = TrainingMonitor()
    history = fit(model, torch.optim.SGD(model.parameters(), lr=lr), (x, y), loss="bce", epochs=1, batch_size=64,
                  callbacks=[monitor], verbose=0, shuffle=False)
    # the same step by hand
    reference, _, _ = model_and_data()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(reference(x).squeeze(-1), y)
    loss.backward()
    grad = reference[0].weight.grad
    assert history.history["grad_norm/0.weight"][0] == pytest.approx(float(grad.norm()), rel=1e-5)
    assert history.history["update_ratio/0.weight"][0] == pytest.approx(lr * float(grad.norm()) / float(w0.norm()), rel=1e-4)


@pytest.mark.parametrize(("lr", "flag"), [(20.0, RatioFlag.TOO_LARGE), (1e-7, RatioFlag.TOO_SMALL)])
def test_far_from_1e_3_is_flagged(lr, flag, capsys):
    model, x, y = model_and_data()
    monitor = TrainingMonitor(verbose=True)
    history = fit(model, torch.optim.SGD(model.parameters(), lr=lr), (x, y), loss="bce", epochs=2, batch_size=32,
                  callbacks=[monitor], verbose=0)
    assert monitor.flags and all(record.flag is flag for record in monitor.flags)
    assert history.history["monitor_flags"][0] == len(WEIGHTS)
    printed = capsys.readouterr().out
    assert "monitor: epoch 1: 0.weight update/weight" in printed
    assert ("learning rate too large" if flag is RatioFlag.TOO_LARGE else "learning rate too small") in printed


def test_a_moderate_step_is_not_flagged():
    model, x, y = model_and_data()
    monitor = TrainingMonitor()
    fit(model, torch.optim.SGD(model.parameters(), lr=0.01), (x, y), loss="bce", epochs=1, batch_size=32,
        callbacks=[monitor], verbose=0)
    ratios = [r.update_ratio for r in monitor.records]
    assert all(1e-4 <= r <= 1e-2 for r in ratios), ratios
    assert monitor.flags == [] and monitor.to_dicts()[0]["flag"] == "ok"


def test_flag_rule_and_ratio_edge_cases():
    assert flag_of(1e-3) is RatioFlag.OK and flag_of(1.1e-2) is RatioFlag.TOO_LARGE and flag_of(9e-5) is RatioFlag.TOO_SMALL
    assert flag_of(1e-3, target=1e-1, factor=2) is RatioFlag.TOO_SMALL and flag_of(math.nan) is RatioFlag.TOO_LARGE
    zero = torch.zeros(3)
    assert update_ratio(zero, zero) == 0.0 and update_ratio(zero, torch.ones(3)) == math.inf
    assert update_ratio(torch.ones(4), torch.full((4,), 1.5)) == pytest.approx(0.5)


@pytest.mark.parametrize(("kwargs", "match"), [({"target": 0}, "target"), ({"factor": 1}, "factor"), ({"target": math.inf}, "target")])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainingMonitor(**kwargs)
