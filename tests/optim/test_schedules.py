"""Learning-rate schedules: hand-computed values, tensors against numbers, LambdaLR and torch's own
schedulers as oracles."""

from __future__ import annotations

import math

import pytest
import torch

import initopt.optim as optim
from initopt.optim import schedules
from initopt.optim.schedules import Schedule, ScheduleError, parse_schedule, scheduler

# (function, arguments after t, {t: multiplier}), worked by hand for T = 10 steps
HAND_VALUES = [
    (schedules.constant, (10,), {0: 1.0, 5: 1.0, 9: 1.0}),
    (schedules.linear_warmup, (4,), {0: 0.25, 2: 0.75, 3: 1.0, 7: 1.0}),
    (schedules.linear_warmup, (0,), {0: 1.0, 9: 1.0}),
    # warmup 2: 1/2, 1; cosine over t - 2 in 0..8 of 8: t = 6 is half way, t = 9 is (1 + cos(7pi/8)) / 2
    (schedules.warmup_cosine, (10, 2), {0: 0.5, 1: 1.0, 2: 1.0, 6: 0.5, 9: 0.0380602337, 10: 0.0, 12: 0.0}),
    (schedules.warmup_cosine, (10, 2, 0.1), {0: 0.5, 1: 1.0, 6: 0.55, 9: 0.1342542104, 10: 0.1}),
    (schedules.warmup_cosine, (10, 0), {0: 1.0, 5: 0.5, 9: 0.0244717419}),
    # decay 0.4 of 10: the cooldown starts at t0 = 6, s = (t - 6) / 4
    (schedules.wsd, (10, 2, 0.4), {0: 0.5, 1: 1.0, 3: 1.0, 5: 1.0, 6: 1.0, 8: 0.5, 9: 0.25, 10: 0.0}),
    (schedules.wsd, (10, 2, 0.4, "linear", 0.1), {1: 1.0, 5: 1.0, 8: 0.55, 9: 0.325, 10: 0.1}),
    (schedules.wsd, (10, 2, 0.4, "1-sqrt"), {0: 0.5, 5: 1.0, 6: 1.0, 8: 0.2928932188, 9: 0.1339745962, 10: 0.0}),
    (schedules.wsd, (10, 3, 0.0), {0: 1 / 3, 2: 1.0, 9: 1.0}),
    (schedules.step, (10, 3, 0.1), {0: 1.0, 2: 1.0, 3: 0.1, 5: 0.1, 6: 0.01, 9: 0.001}),
    (schedules.step, (10, 4, 0.5), {0: 1.0, 4: 0.5, 8: 0.25, 9: 0.25}),
]


@pytest.mark.parametrize(("fn", "args", "values"), HAND_VALUES, ids=lambda v: getattr(v, "__name__", None))
def test_multiplier_at_key_steps_matches_the_hand_computed_value(fn, args, values) -> None:
    for t, expected in values.items():
        assert fn(t, *args) == pytest.approx(expected, abs=1e-10), f"t={t}"


@pytest.mark.parametrize(("fn", "args", "values"), HAND_VALUES, ids=lambda v: getattr(v, "__name__", None))
def test_tensor_steps_give_the_numbers_values(fn, args, values) -> None:
    t = torch.arange(13, dtype=torch.float64)
    expected = torch.tensor([fn(int(i), *args) for i in range(13)], dtype=torch.float64)
    torch.testing.assert_close(fn(t, *args), expected, rtol=1e-12, atol=1e-15)  # float64: round-off only
    as_float32 = fn(torch.arange(13), *args)  # an integer step counter gives the default float dtype
    assert as_float32.dtype == torch.float32
    torch.testing.assert_close(as_float32, expected.float(), rtol=1e-6, atol=1e-7)


# per-configuration parameters, K = 4 columns (the decay fractions 0.25 of 10 round half to even, to 2)
PER_CONFIGURATION = [
    (schedules.warmup_cosine, {"warmup": [0.0, 2.0, 5.0, 10.0], "final": [0.0, 0.1, 0.5, 0.0]}),
    (schedules.wsd, {"warmup": [0.0, 2.0, 3.0, 1.0], "decay_fraction": [0.0, 0.25, 0.5, 0.35], "final": [0.0, 0.1, 0.0, 0.2]}),
    (schedules.step, {"step_size": [1.0, 3.0, 4.0, 20.0], "gamma": [0.5, 0.1, 0.9, 0.1]}),
]


@pytest.mark.parametrize(("fn", "columns"), PER_CONFIGURATION, ids=lambda v: getattr(v, "__name__", None))
def test_per_configuration_tensors_match_each_configuration_alone(fn, columns) -> None:
    total = 10
    tensors = {name: torch.tensor(values, dtype=torch.float64) for name, values in columns.items()}
    t = torch.arange(total + 2, dtype=torch.float64)[:, None]
    got = fn(t, total, **tensors)
    assert got.shape == (total + 2, 4)
    for k in range(4):
        alone = {name: values[k] for name, values in columns.items()}
        expected = torch.tensor([fn(i, total, **alone) for i in range(total + 2)], dtype=torch.float64)
        torch.testing.assert_close(got[:, k], expected, rtol=1e-12, atol=1e-15)
        # a number step with tensor parameters: one row
        torch.testing.assert_close(fn(7, total, **tensors)[k], expected[7], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("fn", "columns"), PER_CONFIGURATION, ids=lambda v: getattr(v, "__name__", None))
def test_tensor_evaluation_never_reads_a_value_on_the_host(fn, columns) -> None:
    """On the meta device a tensor has no values: ``.item()``, ``bool()`` or a Python ``if`` on one
    raises, so a schedule that evaluates there needs no host sync on a GPU."""
    tensors = {name: torch.tensor(values, device="meta") for name, values in columns.items()}
    got = fn(torch.zeros((), device="meta"), 10, **tensors)
    assert got.device.type == "meta" and got.shape == (4,)
    assert fn(3, 10, **tensors).device.type == "meta"  # a number step is filled in on the device


def test_wsd_rejects_an_unknown_cooldown() -> None:
    with pytest.raises(ValueError, match="cooldown 'sqrt'.*1-sqrt"):
        schedules.wsd(0, 10, 2, 0.2, cooldown="sqrt")


SCHEDULE_ROWS = [
    Schedule(),
    Schedule("warmup-cosine", warmup_fraction=0.1, final=0.1),
    Schedule("wsd", warmup_fraction=0.1, decay_fraction=0.3),
    Schedule("wsd-1sqrt"),
    Schedule("step", step_fraction=0.25, gamma=0.5),
]


@pytest.mark.parametrize("schedule", SCHEDULE_ROWS, ids=lambda s: s.name)
def test_schedule_uses_whole_steps_of_its_fractions(schedule: Schedule) -> None:
    total = 40
    by_name = {
        "constant": lambda t: schedules.constant(t, total),
        "warmup-cosine": lambda t: schedules.warmup_cosine(t, total, 4, 0.1),
        "wsd": lambda t: schedules.wsd(t, total, 4, 0.3),
        "wsd-1sqrt": lambda t: schedules.wsd(t, total, 2, 0.2, "1-sqrt"),
        "step": lambda t: schedules.step(t, total, 10, 0.5),
    }
    assert [schedule.multiplier(t, total) for t in range(total)] == [by_name[schedule.name](t) for t in range(total)]


@pytest.mark.parametrize("optimizer_class", [torch.optim.AdamW, optim.AdamW], ids=["torch", "initopt"])
@pytest.mark.parametrize("schedule", SCHEDULE_ROWS, ids=lambda s: s.name)
def test_lambdalr_sets_base_lr_times_the_multiplier_at_every_step(schedule: Schedule, optimizer_class: type) -> None:
    total, base_lr = 30, 0.01
    weight = torch.nn.Parameter(torch.ones(3))
    opt = optimizer_class([weight], lr=base_lr)
    lr_schedule = scheduler(opt, schedule, total)
    seen = []
    for _ in range(total):
        seen.append(opt.param_groups[0]["lr"])
        weight.grad = torch.ones(3)
        opt.step()
        lr_schedule.step()
    assert seen == [base_lr * schedule.multiplier(t, total) for t in range(total)]


def test_scheduler_state_dict_keeps_the_schedule() -> None:
    """The multiplier is a callable object, so ``LambdaLR.state_dict`` saves it and a fresh scheduler
    resumes the same schedule."""
    total, schedule = 20, Schedule("warmup-cosine", warmup_fraction=0.2)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    lr_schedule = scheduler(opt, schedule, total)
    for _ in range(7):
        opt.step()
        lr_schedule.step()
    resumed_opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    resumed = scheduler(resumed_opt, "constant", 1)
    resumed.load_state_dict(lr_schedule.state_dict())
    resumed_opt.step()
    resumed.step()
    assert resumed_opt.param_groups[0]["lr"] == pytest.approx(0.1 * schedule.multiplier(8, total), rel=1e-15)


def test_scheduler_takes_a_name_and_checks_total_steps() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    assert scheduler(opt, "wsd", 100).lr_lambdas[0].schedule == Schedule("wsd")
    with pytest.raises(ValueError, match="total_steps must be a whole number >= 0, got -1"):
        scheduler(opt, "wsd", -1)


@pytest.mark.parametrize(("total", "warmup", "final"), [(12, 2, 0.0), (20, 4, 0.0), (50, 5, 0.1)])
def test_warmup_cosine_matches_torchs_linear_then_cosine_annealing(total: int, warmup: int, final: float) -> None:
    """``LinearLR(1/w, 1, w - 1)`` then ``CosineAnnealingLR(T - w, f * lr)``: the same multipliers for
    w >= 2, up to torch's recursive round-off (see ``warmup_cosine``'s docstring for where they differ)."""
    base_lr = 0.1
    weight = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([weight], lr=base_lr)
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=final * base_lr)
    chained = torch.optim.lr_scheduler.SequentialLR(opt, [warm, cosine], milestones=[warmup])
    torch_lrs = []
    for _ in range(total):
        torch_lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        chained.step()
    ours = [base_lr * schedules.warmup_cosine(t, total, warmup, final) for t in range(total)]
    torch.testing.assert_close(torch.tensor(torch_lrs, dtype=torch.float64), torch.tensor(ours, dtype=torch.float64),
                               rtol=1e-12, atol=1e-15)


def test_parse_schedule_reads_names_and_parameters() -> None:
    assert parse_schedule("Warmup_Cosine") == Schedule("warmup-cosine")
    assert parse_schedule("wsd-1sqrt:decay_fraction=0.1, final=0.05") == Schedule("wsd-1sqrt", decay_fraction=0.1, final=0.05)
    assert parse_schedule("wsd", warmup_fraction=0.0) == Schedule("wsd", warmup_fraction=0.0)
    assert Schedule("wsd").parameters == {"warmup_fraction": 0.05, "decay_fraction": 0.2, "final": 0.0}
    assert Schedule("step").step_fraction == pytest.approx(1 / 3) and Schedule("step").warmup_fraction is None
    for schedule in SCHEDULE_ROWS:
        assert parse_schedule(schedule.label) == schedule, schedule.label
    assert Schedule("wsd").label == "wsd:warmup_fraction=0.05,decay_fraction=0.2,final=0"


@pytest.mark.parametrize(
    ("text", "given", "field", "fragment"),
    [
        ("cosine", {}, "name", "unknown schedule 'cosine'; did you mean 'warmup-cosine'?"),
        ("wsd:decay_frac=0.1", {}, "decay_frac", "unknown wsd parameter 'decay_frac'; did you mean 'decay_fraction'?"),
        ("constant:gama=0.1", {}, "gama", "the constant schedule takes no parameters, got 'gama'"),
        ("constant:final=0.1", {}, "final", "final does not apply to the constant schedule (it takes no parameters)"),
        ("step", {"warmup_fraction": 0.1}, "warmup_fraction", "does not apply to the step schedule (it takes step_fraction, gamma)"),
        ("wsd", {"warmup_fraction": 1.0}, "warmup_fraction", "warmup_fraction must be in [0, 1), got 1.0"),
        ("warmup-cosine", {"warmup_fraction": -0.1}, "warmup_fraction", "warmup_fraction must be in [0, 1), got -0.1"),
        ("warmup-cosine:final=nan", {}, "final", "final must be in [0, 1], got nan"),
        ("step:step_fraction=0", {}, "step_fraction", "step_fraction must be in (0, 1], got 0.0"),
        ("step:gamma=x", {}, "gamma", "gamma must be a number, got 'x'"),
        ("wsd:warmup_fraction=0.5,decay_fraction=0.6", {}, "decay_fraction", "warmup_fraction + decay_fraction must be <= 1, got 0.5 + 0.6"),
        ("wsd:warmup_fraction=0.1", {"warmup_fraction": 0.2}, "warmup_fraction", "warmup_fraction is given twice: 0.1 in"),
        ("wsd:warmup_fraction", {}, "name", "expected key=value after the schedule's name, got 'warmup_fraction'"),
    ],
)
def test_bad_schedules_name_the_field_and_the_value(text: str, given: dict, field: str, fragment: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text, **given)
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_linear_warmup_starts_above_zero_and_ends_at_one() -> None:
    """No step at lr 0: the first step runs at 1/w, step w - 1 at the full lr."""
    w = 5
    values = [schedules.linear_warmup(t, w) for t in range(w)]
    assert values[0] == pytest.approx(1 / w) and values[-1] == 1.0
    assert all(b - a == pytest.approx(1 / w) for a, b in zip(values, values[1:]))
    assert math.isclose(schedules.warmup_cosine(w - 1, 100, w), 1.0)
