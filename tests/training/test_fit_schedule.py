"""``fit(schedule=...)``: the lr follows the schedule at every optimizer step, and without a schedule
the training is bitwise what it was."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initopt.optim.schedules import Schedule
from initopt.training import fit

EPOCHS, BATCH = 3, 64  # 512 examples: 8 steps an epoch, 24 in all
STEPS = 8


class RecordingSGD(torch.optim.SGD):
    """SGD that notes the lr each of its steps runs at."""

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self.lrs: list[float] = []

    def step(self, closure=None):
        self.lrs.append(self.param_groups[0]["lr"])
        return super().step(closure)


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))


@pytest.mark.parametrize(
    "schedule",
    [Schedule("warmup-cosine", warmup_fraction=0.25, final=0.1), Schedule("wsd-1sqrt", warmup_fraction=0.1, decay_fraction=0.3),
     Schedule("step", step_fraction=0.25, gamma=0.5)],
    ids=lambda s: s.name,
)
def test_lr_follows_the_schedule_at_every_step_and_history_records_it(xor_data, schedule: Schedule) -> None:
    x, y = xor_data
    model = make_model()
    opt = RecordingSGD(model.parameters(), lr=0.1)
    history = fit(model, opt, (x, y), loss="bce", epochs=EPOCHS, batch_size=BATCH, schedule=schedule, verbose=0)
    total = EPOCHS * STEPS
    expected = [0.1 * schedule.multiplier(t, total) for t in range(total)]
    assert opt.lrs == expected
    assert history.history["lr"] == [expected[(epoch + 1) * STEPS - 1] for epoch in range(EPOCHS)]


def test_a_schedule_name_is_that_schedule_with_its_defaults(xor_data) -> None:
    x, y = xor_data
    runs = []
    for schedule in ("wsd", Schedule("wsd")):
        model = make_model()
        opt = RecordingSGD(model.parameters(), lr=0.1)
        fit(model, opt, (x, y), loss="bce", epochs=2, batch_size=BATCH, schedule=schedule, verbose=0)
        runs.append(opt.lrs)
    assert runs[0] == runs[1] and len(set(runs[0])) > 1


def test_without_a_schedule_training_is_unchanged(xor_data) -> None:
    """No schedule: the optimizer is never touched (no ``initial_lr``, no ``lr`` in the History) and
    the parameters are bitwise those of a plain loop; a constant schedule (a multiplier of exactly 1)
    gives the same parameters and records the lr."""
    x, y = xor_data
    reference = make_model()
    ref_opt = torch.optim.AdamW(reference.parameters(), lr=0.01)
    order_rng = torch.Generator().manual_seed(0)
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=order_rng)
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            ref_opt.zero_grad(set_to_none=True)
            nn.functional.binary_cross_entropy_with_logits(reference(x[idx]).squeeze(-1), y[idx]).backward()
            ref_opt.step()

    plain, constant = make_model(), make_model()
    plain_opt = torch.optim.AdamW(plain.parameters(), lr=0.01)
    constant_opt = torch.optim.AdamW(constant.parameters(), lr=0.01)
    plain_history = fit(plain, plain_opt, (x, y), loss="bce", epochs=EPOCHS, batch_size=BATCH, verbose=0)
    constant_history = fit(constant, constant_opt, (x, y), loss="bce", epochs=EPOCHS, batch_size=BATCH, schedule="constant", verbose=0)

    for ours, theirs, ref in zip(plain.parameters(), constant.parameters(), reference.parameters()):
        assert torch.equal(ours, ref) and torch.equal(theirs, ref)
    assert "lr" not in plain_history.history and "initial_lr" not in plain_opt.param_groups[0]
    assert plain_opt.param_groups[0]["lr"] == 0.01
    assert constant_history.history["lr"] == [0.01] * EPOCHS
    assert {k: v for k, v in constant_history.history.items() if k != "lr"} == plain_history.history


def test_the_epoch_line_shows_the_lr(xor_data, capsys) -> None:
    x, y = xor_data
    model = make_model()
    fit(model, torch.optim.SGD(model.parameters(), lr=0.1), (x, y), loss="bce", epochs=1, batch_size=BATCH,
        schedule=Schedule("step", step_fraction=0.5, gamma=0.5), verbose=2)
    assert "- lr: 0.0500" in capsys.readouterr().out


def test_a_bad_schedule_fails_before_training(xor_data) -> None:
    x, y = xor_data
    model = make_model()
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="unknown schedule 'cosine'; did you mean 'warmup-cosine'"):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), (x, y), loss="bce", epochs=1, schedule="cosine", verbose=0)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
