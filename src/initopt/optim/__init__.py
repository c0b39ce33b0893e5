"""Optimizers with torch.optim's numerics, plus what choosing AdamW settings needs.

``SGD``, ``Adam``, ``AdamW``: drop-in ``torch.optim.Optimizer`` subclasses with torch's argument
names, defaults, state keys and (bitwise, on CPU) numerics, so checkpoints interchange both
ways. Added: ``AdamW(decay="independent")`` (decay that follows the lr schedule but not the base
lr), checks of every param group, :func:`param_groups`, :func:`get` / :func:`names`, and the
update math as small pure functions whose hyperparameters may be per-configuration tensors.
See docs/optim.md.

The functional APIs keep torch's names and live in their modules (``initopt.optim.adam.adam``,
``initopt.optim.sgd.sgd``); they are not re-exported so that ``initopt.optim.adam`` stays the module.
"""

from .adafactor import Adafactor
from .adam import Adam, AdamW, adam_moments_, adam_step_size, adam_update_
from .decay import DECAY_MODES, decoupled_decay_, effective_weight_decay, l2_grad
from .groups import param_groups
from .lion import Lion, lion_update_
from .muon import Muon, muon_param_groups, newton_schulz
from .registry import build, get, names
from .schedule_free import ScheduleFreeAdamW
from .schedules import Schedule, ScheduleError, parse_schedule, scheduler
from .sgd import SGD, nesterov_direction, sgd_momentum, sgd_update_

__all__ = [
    "DECAY_MODES",
    "Lion",
    "Muon",
    "SGD",
    "Schedule",
    "ScheduleError",
    "ScheduleFreeAdamW",
    "Adafactor",
    "Adam",
    "AdamW",
    "adam_moments_",
    "adam_step_size",
    "adam_update_",
    "build",
    "decoupled_decay_",
    "effective_weight_decay",
    "get",
    "l2_grad",
    "lion_update_",
    "muon_param_groups",
    "names",
    "nesterov_direction",
    "newton_schulz",
    "param_groups",
    "parse_schedule",
    "scheduler",
    "sgd_momentum",
    "sgd_update_",
]
