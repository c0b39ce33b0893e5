r"""Learning-rate schedules: the multiplier of the base lr at step ``t`` of ``total`` steps.

``t = 0`` is the first optimizer step and ``t = total - 1`` the last. Two conventions hold for every
schedule here, so that no step is spent at a zero lr:

- **warmup** of ``w`` steps multiplies by :math:`(t+1)/w` for :math:`t < w` (1/w at the first step,
  1 at step ``w - 1``);
- **decays** reach their ``final`` value at :math:`t = T`, one past the last step (the last step runs
  at a small but non-zero multiplier when ``final = 0``).

The pure functions take Python numbers, or tensors for ``t`` and any parameter (e.g. ``(K,)`` columns
for K configurations, broadcast as usual), and then use tensor ops only: no Python branch on a
tensor's value, no ``.item()``, so a batched trainer evaluates K schedules on the device without a
host sync. Results follow torch's type promotion (an integer step tensor with number parameters
gives the default float dtype). :class:`Schedule` names a schedule with its parameters, warmup given
as a fraction of the steps; :func:`scheduler` drives any ``torch.optim.Optimizer`` with one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor
from torch.optim.lr_scheduler import LambdaLR

from initopt._suggest import is_number, is_whole_number, unknown

Value = float | Tensor

SCHEDULES = ("constant", "warmup-cosine", "wsd", "wsd-1sqrt", "step")
COOLDOWNS = ("linear", "1-sqrt")

DEFAULT_WARMUP_FRACTION = 0.05
DEFAULT_DECAY_FRACTION = 0.2  # Hägele et al. 2024: a 20% cooldown matches a cosine schedule
DEFAULT_STEP_FRACTION = 1 / 3  # torchvision's ImageNet recipe: lr / 10 at epochs 30 and 60 of 90
DEFAULT_GAMMA = 0.1

PARAMETERS: dict[str, dict[str, float]] = {
    "constant": {},
    "warmup-cosine": {"warmup_fraction": DEFAULT_WARMUP_FRACTION, "final": 0.0},
    "wsd": {"warmup_fraction": DEFAULT_WARMUP_FRACTION, "decay_fraction": DEFAULT_DECAY_FRACTION, "final": 0.0},
    "wsd-1sqrt": {"warmup_fraction": DEFAULT_WARMUP_FRACTION, "decay_fraction": DEFAULT_DECAY_FRACTION, "final": 0.0},
    "step": {"step_fraction": DEFAULT_STEP_FRACTION, "gamma": DEFAULT_GAMMA},
}


def constant(t: Value, total: Value) -> Value:
    """1 at every step."""
    if isinstance(t, Tensor):
        return torch.ones_like(t, dtype=_float_dtype(t))
    return 1.0


def linear_warmup(t: Value, warmup: Value) -> Value:
    r""":math:`\min(1, (t+1)/w)`: :math:`1/w` at the first step, 1 from step :math:`w - 1` on.

    The convention of Karpathy's build-nanogpt (``train_gpt2.py``: ``max_lr * (it+1) / warmup_steps``)
    and of ``LinearLR(start_factor=1/w, total_iters=w-1)``. nanoGPT's ``train.py`` uses
    :math:`(t+1)/(w+1)`, which reaches 1 one step later; a warmup from 0 (:math:`t/w`) spends its
    first step at lr 0. ``w = 0`` means no warmup (1 everywhere).
    """
    return _clamp((t + 1) / _at_least(warmup, 1), 0.0, 1.0)


def warmup_cosine(t: Value, total: Value, warmup: Value, final: Value = 0.0) -> Value:
    r"""Linear warmup over ``warmup`` steps, then a cosine from 1 down to ``final`` at :math:`t = T`.

    .. math::
        m(t) = \begin{cases} (t+1)/w & t < w \\
        f + (1-f)\,\tfrac12\left(1 + \cos\left(\pi\,\frac{t-w}{T-w}\right)\right) & t \ge w \end{cases}

    Cosine annealing: Loshchilov & Hutter 2017, "SGDR: Stochastic Gradient Descent with Warm
    Restarts" (eq. 5, one cycle, no restart); warmup: Goyal et al. 2017, "Accurate, Large Minibatch
    SGD". Past :math:`T` it stays at ``final``.

    Against torch: for :math:`w \ge 2` this is ``SequentialLR([LinearLR(start_factor=1/w,
    total_iters=w-1), CosineAnnealingLR(T_max=T-w, eta_min=f*lr)], milestones=[w])`` up to round-off
    (torch computes both recursively, from the previous lr). They differ in that ``LinearLR`` cannot
    start from 0 (``start_factor > 0``), ``CosineAnnealingLR`` rises again after ``T_max`` (it is
    periodic) and follows changes made to the lr from outside, and torch counts ``T_max`` from the end
    of the warmup where ``total`` here counts every step.
    """
    t = _as_step(t, total, warmup, final)
    progress = _clamp((t - warmup) / _at_least(total - warmup, 1), 0.0, 1.0)
    cosine = final + (1 - final) * (1 + _cos(math.pi * progress)) / 2
    return _where(t < warmup, linear_warmup(t, warmup), cosine)


def wsd(
    t: Value,
    total: Value,
    warmup: Value,
    decay_fraction: Value,
    cooldown: str = "linear",
    final: Value = 0.0,
) -> Value:
    r"""Warmup-stable-decay: warmup, then 1, then the last ``decay_fraction`` of the steps cool down.

    With :math:`t_0 = T - \operatorname{round}(\delta T)` the start of the cooldown and
    :math:`s = (t - t_0)/(T - t_0)`:

    .. math::
        m(t) = \begin{cases} (t+1)/w & t < w \\ 1 & w \le t < t_0 \\
        f + (1-f)(1 - s) & t \ge t_0,\ \text{cooldown="linear"} \\
        f + (1-f)(1 - \sqrt{s}) & t \ge t_0,\ \text{cooldown="1-sqrt"} \end{cases}

    Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations"
    (the 1-sqrt cooldown is their best; a 20% cooldown matches cosine), after Hu et al. 2024
    (MiniCPM). ``decay_fraction = 0`` is a warmup followed by a constant lr. ``cooldown`` is one
    string for all configurations; the numbers may be tensors.
    """
    if cooldown not in COOLDOWNS:
        raise ValueError(unknown("cooldown", cooldown, COOLDOWNS))
    t = _as_step(t, total, warmup, decay_fraction, final)
    decay_start = total - _round(decay_fraction * total)
    progress = _clamp((t - decay_start) / _at_least(total - decay_start, 1), 0.0, 1.0)
    shape = 1 - progress if cooldown == "linear" else 1 - _sqrt(progress)
    cooled = final + (1 - final) * shape
    return _where(t < warmup, linear_warmup(t, warmup), _where(t < decay_start, 1.0, cooled))


def step(t: Value, total: Value, step_size: Value, gamma: Value) -> Value:
    r""":math:`\gamma^{\lfloor t / s \rfloor}`: the lr times ``gamma`` every ``step_size`` steps.

    ``torch.optim.lr_scheduler.StepLR``'s rule, counted in optimizer steps rather than epochs.
    ``total`` is unused (every schedule takes ``(t, total, ...)``).
    """
    t = _as_step(t, total, step_size, gamma)
    return gamma ** (t // step_size)


def whole_steps(fraction: Value, total: Value) -> Value:
    """``round(fraction * total)``: a fraction of the steps as a whole number of them (half to even,
    as Python's ``round`` and ``torch.round`` both do)."""
    return _round(fraction * total)


class ScheduleError(ValueError):
    """A bad schedule name or parameter; ``field`` names it (``"name"`` for the name)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Schedule:
    """A named schedule with its parameters; those left ``None`` take the schedule's defaults.

    ``name``: constant, warmup-cosine, wsd, wsd-1sqrt (WSD with the 1-sqrt cooldown) or step
    (any case, ``_`` for ``-``). Fractions count all the training steps: ``warmup_fraction`` in
    [0, 1) (warmup-cosine, wsd; default 0.05), ``decay_fraction`` in [0, 1] (wsd; default 0.2),
    ``step_fraction`` in (0, 1] (step; default 1/3). ``final`` in [0, 1]: the multiplier the decay
    ends at (warmup-cosine, wsd; default 0). ``gamma`` in (0, 1] (step; default 0.1).

    Example:
        >>> Schedule("wsd-1sqrt", warmup_fraction=0.1).multiplier(0, total=100)
        0.1
    """

    name: str = "constant"
    warmup_fraction: float | None = None
    decay_fraction: float | None = None
    final: float | None = None
    step_fraction: float | None = None
    gamma: float | None = None

    def __post_init__(self) -> None:
        name = _canonical_name(self.name)
        object.__setattr__(self, "name", name)
        defaults = PARAMETERS[name]
        for field in _PARAMETER_FIELDS:
            value = getattr(self, field)
            if value is None:
                object.__setattr__(self, field, defaults.get(field))
            elif field not in defaults:
                takes = ", ".join(defaults) or "no parameters"
                raise ScheduleError(field, f"{field} does not apply to the {name} schedule (it takes {takes})")
            else:
                _check_range(field, value)
        if name in ("wsd", "wsd-1sqrt") and self.warmup_fraction + self.decay_fraction > 1:
            raise ScheduleError("decay_fraction", f"warmup_fraction + decay_fraction must be <= 1, got "
                                                  f"{self.warmup_fraction:g} + {self.decay_fraction:g}")

    @property
    def parameters(self) -> dict[str, float]:
        """The parameters that apply to this schedule, in order."""
        return {field: getattr(self, field) for field in PARAMETERS[self.name]}

    @property
    def label(self) -> str:
        """``wsd:warmup_fraction=0.05,decay_fraction=0.2,final=0``, as :func:`parse_schedule` reads it."""
        settings = ",".join(f"{key}={value:g}" for key, value in self.parameters.items())
        return f"{self.name}:{settings}" if settings else self.name

    def multiplier(self, t: Value, total: int) -> Value:
        """The multiplier at step ``t`` (0-based, a number or a tensor) of ``total`` steps."""
        if self.name == "constant":
            return constant(t, total)
        if self.name == "step":
            return step(t, total, max(1, whole_steps(self.step_fraction, total)), self.gamma)
        warmup = whole_steps(self.warmup_fraction, total)
        if self.name == "warmup-cosine":
            return warmup_cosine(t, total, warmup, self.final)
        cooldown = "1-sqrt" if self.name == "wsd-1sqrt" else "linear"
        return wsd(t, total, warmup, self.decay_fraction, cooldown, self.final)


_PARAMETER_FIELDS = tuple(f.name for f in fields(Schedule) if f.name != "name")
_RANGES = {  # field: (low, high, low included, high included)
    "warmup_fraction": (0.0, 1.0, True, False),
    "decay_fraction": (0.0, 1.0, True, True),
    "final": (0.0, 1.0, True, True),
    "step_fraction": (0.0, 1.0, False, True),
    "gamma": (0.0, 1.0, False, True),
}


def parse_schedule(text: str, **parameters: float) -> Schedule:
    """``"wsd"``, ``"wsd-1sqrt:decay_fraction=0.1"``, ``"step:gamma=0.5"`` -> :class:`Schedule`.

    ``parameters`` add more (the command line's ``--warmup``); one given both ways is an error. An
    unknown name or parameter raises :class:`ScheduleError` with the closest valid one.
    """
    name, _, rest = str(text).partition(":")
    canonical = _canonical_name(name)
    given: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = (part.strip() for part in item.partition("="))
        key = key.replace("-", "_")  # decay-fraction, as the command line spells its flag
        if not eq or not key:
            raise ScheduleError("name", f"expected key=value after the schedule's name, got {item!r} in {text!r}")
        if key not in _PARAMETER_FIELDS:
            raise ScheduleError(key, _unknown_parameter(canonical, key))
        try:
            given[key] = float(value)
        except ValueError:
            raise ScheduleError(key, f"{key} must be a number, got {value!r}") from None
    for key, value in parameters.items():
        if key in given:
            raise ScheduleError(key, f"{key} is given twice: {given[key]:g} in {text!r} and {value:g}")
        given[key] = value
    return Schedule(canonical, **given)


@dataclass
class ScheduleMultiplier:
    """``LambdaLR``'s ``lr_lambda``: a callable object, so the scheduler's ``state_dict`` keeps it."""

    schedule: Schedule
    total_steps: int

    def __call__(self, t: int) -> float:
        return float(self.schedule.multiplier(t, self.total_steps))


def scheduler(optimizer: torch.optim.Optimizer, schedule: Schedule | str, total_steps: int) -> LambdaLR:
    """A ``LambdaLR`` that sets every param group's lr to ``initial_lr * schedule.multiplier(t, total_steps)``.

    Call its ``step()`` once after each ``optimizer.step()``; step ``t`` then runs at the multiplier
    of ``t``. Works with torch.optim's optimizers and initopt's alike (``initial_lr`` is the key
    ``AdamW(decay="independent")`` reads, so its decay follows the schedule).

    Example:
        >>> lr_schedule = scheduler(opt, "warmup-cosine", total_steps=epochs * len(loader))  # doctest: +SKIP
    """
    if isinstance(schedule, str):
        schedule = parse_schedule(schedule)
    if not is_whole_number(total_steps) or total_steps < 0:
        raise ValueError(f"total_steps must be a whole number >= 0, got {total_steps!r}")
    return LambdaLR(optimizer, ScheduleMultiplier(schedule, total_steps))


def schedule_of(hyperparameters: Mapping[str, Any]) -> Schedule | None:
    """The schedule a study configuration's hyperparameters name (``schedule``, and ``warmup`` as the
    warmup fraction), or None for a constant lr."""
    name = hyperparameters.get("schedule", "constant")
    if name == "constant":
        return None
    warmup = hyperparameters.get("warmup")
    return Schedule(name, **({} if warmup is None else {"warmup_fraction": warmup}))


class MultiplierColumn:
    """The multipliers of K configurations, each with its own schedule, at step ``t`` (a 0-dim tensor):
    ``column(t)`` is a ``(K,)`` tensor, equal to ``[s.multiplier(t, total) for s in schedules]`` up to
    the rounding of the cosine and square root in ``dtype``. The schedules' parameters are columns made
    once on ``device``; a step runs tensor operations only (no host synchronization: a CUDA graph can
    hold it)."""

    def __init__(self, schedules: Sequence[Schedule], total: int, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float64):
        self.k, self.total, self.dtype = len(schedules), total, dtype
        self.parts: list[tuple[str, Tensor, dict[str, Tensor]]] = []
        for name in dict.fromkeys(s.name for s in schedules):
            if name == "constant":
                continue
            members = [s for s in schedules if s.name == name]
            column = lambda values: torch.tensor(values, dtype=dtype, device=device)  # noqa: E731
            if name == "step":
                parameters = {"step_size": column([max(1, whole_steps(s.step_fraction, total)) for s in members]),
                              "gamma": column([s.gamma for s in members])}
            else:
                parameters = {"warmup": column([whole_steps(s.warmup_fraction, total) for s in members]),
                              "final": column([s.final for s in members])}
                if name != "warmup-cosine":
                    parameters["decay_fraction"] = column([s.decay_fraction for s in members])
            rows = torch.tensor([i for i, s in enumerate(schedules) if s.name == name], device=device)
            self.parts.append((name, rows, parameters))

    def __call__(self, t: Tensor) -> Tensor:
        out = torch.ones(self.k, dtype=self.dtype, device=t.device)
        t = t.to(self.dtype)
        for name, rows, p in self.parts:
            if name == "step":
                values = step(t, self.total, p["step_size"], p["gamma"])
            elif name == "warmup-cosine":
                values = warmup_cosine(t, self.total, p["warmup"], p["final"])
            else:
                cooldown = "1-sqrt" if name == "wsd-1sqrt" else "linear"
                values = wsd(t, self.total, p["warmup"], p["decay_fraction"], cooldown, p["final"])
            out[rows] = values
        return out


def _canonical_name(name: str) -> str:
    canonical = str(name).strip().lower().replace("_", "-")
    if canonical not in PARAMETERS:
        raise ScheduleError("name", unknown("schedule", str(name).strip(), SCHEDULES))
    return canonical


def _unknown_parameter(name: str, key: str) -> str:
    takes = PARAMETERS[name]
    return unknown(f"{name} parameter", key, takes) if takes else f"the {name} schedule takes no parameters, got {key!r}"


def _check_range(field: str, value: object) -> None:
    low, high, low_in, high_in = _RANGES[field]
    inside = is_number(value) and (low <= value if low_in else low < value) and (value <= high if high_in else value < high)
    if not inside:
        interval = f"{'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"
        raise ScheduleError(field, f"{field} must be in {interval}, got {value!r}")


def _float_dtype(x: Tensor) -> torch.dtype:
    return x.dtype if x.is_floating_point() else torch.get_default_dtype()


def _as_step(t: Value, *parameters: Value) -> Value:
    """``t`` as a 0-dim tensor on the parameters' device when any of them is a tensor, so that every
    choice below is elementwise (``torch.full``, a fill kernel: no host-to-device copy)."""
    if isinstance(t, Tensor):
        return t
    for parameter in parameters:
        if isinstance(parameter, Tensor):
            return torch.full((), t, dtype=_float_dtype(parameter), device=parameter.device)
    return t


def _where(condition: bool | Tensor, if_true: Value, if_false: Value) -> Value:
    if isinstance(condition, Tensor):
        return torch.where(condition, if_true, if_false)
    return if_true if condition else if_false


def _clamp(x: Value, low: float, high: float) -> Value:
    return x.clamp(low, high) if isinstance(x, Tensor) else min(max(x, low), high)


def _at_least(x: Value, low: float) -> Value:
    return x.clamp(min=low) if isinstance(x, Tensor) else max(x, low)


def _round(x: Value) -> Value:
    return torch.round(x) if isinstance(x, Tensor) else round(x)


def _cos(x: Value) -> Value:
    return torch.cos(x) if isinstance(x, Tensor) else math.cos(x)


def _sqrt(x: Value) -> Value:
    return torch.sqrt(x) if isinstance(x, Tensor) else math.sqrt(x)
