"""Shared base for initopt's optimizers: hyperparameter checks, path choice, state defaults.

The optimizers subclass :class:`torch.optim.Optimizer`, so LR schedulers, ``GradScaler``, step
hooks and ``state_dict`` / ``load_state_dict`` work exactly as with ``torch.optim``. What this
module adds is what every optimizer here needs once:

* checks that raise ``torch.optim``'s exceptions with its texts (``Invalid learning rate: -1.0``),
  and in its words, with the rule added, where it checks nothing (``decay``, ``state_dtype``);
  ``torch.optim`` checks the constructor only, we check every param group too;
* which of the three implementations of an update runs is decided in :mod:`initopt.optim.paths`;
* ``__setstate__`` that fills group keys missing from older or ``torch.optim``-made state dicts;
* small helpers that let the pure update functions take hyperparameters either as Python numbers
  (the optimizer classes) or as tensors that broadcast against the parameter (a stack of K
  configurations, shape ``(K, 1, ...)``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

# Private torch helpers, imported in this one place: they define what "behave like torch.optim"
# means (grad mode in ``step``, the dtype of ``state["step"]``, the devices fused kernels run on).
from torch.optim.optimizer import (  # noqa: F401  (re-exported to sgd.py / adam.py)
    _device_dtype_check_for_fused,
    _get_scalar_dtype,
    _use_grad_for_differentiable,
)

from .paths import default_fused

__all__ = [
    "BaseOptimizer",
    "axpy",
    "axpy_",
    "cast_like",
    "check_beta",
    "check_beta_types",
    "check_choice",
    "check_nonnegative",
    "check_one_element",
    "device_tensor",
    "invalid",
    "is_host_scalar",
    "item",
    "saved_copy",
    "to_scalar",
    "view_as_real",
]


# --------------------------------------------------------------------------------------------
# Hyperparameters as Python numbers or tensors
# --------------------------------------------------------------------------------------------
def is_host_scalar(x: Any) -> bool:
    """True when ``x`` can be passed where torch ops take a Scalar (``alpha=``, ``value=``).

    A Python number, or a 0-dim CPU tensor that does not require grad (torch reads it with
    ``.item()``, as ``torch.optim`` does for a tensor ``lr``). Anything else, e.g. a ``(K, 1)``
    tensor of per-configuration learning rates or a CUDA tensor under graph capture, has to go
    through tensor arithmetic instead.
    """
    if not isinstance(x, Tensor):
        return True
    return x.dim() == 0 and x.device.type == "cpu" and not x.requires_grad


def cast_like(x: Any, t: Tensor) -> Any:
    """A non-host tensor hyperparameter in ``t``'s dtype and device; anything else unchanged.

    torch.optim computes derived scalars (``1 - beta``, ``lr / (1 - beta1**t)``) in Python
    floats, i.e. float64, and the kernel rounds them once to the parameter's dtype. Casting the
    derived tensor to ``t.dtype`` right before the parameter-sized op does the same, so float64
    per-configuration hyperparameters give torch's arithmetic. (Float32 ones would lose digits
    already in ``1 - beta``: ``1 - f32(0.999)`` is 1.3e-5 off in relative terms.)
    """
    if isinstance(x, Tensor) and not is_host_scalar(x):
        return x.to(dtype=t.dtype, device=t.device)
    return x


def axpy_(y: Tensor, x: Tensor, a: float | Tensor) -> Tensor:
    """``y <- y + a * x`` in place; ``a`` a number or a tensor broadcastable against ``y``."""
    if is_host_scalar(a):
        return y.add_(x, alpha=a)
    return y.addcmul_(x, cast_like(a, y))


def axpy(y: Tensor, x: Tensor, a: float | Tensor) -> Tensor:
    """``y + a * x`` (new tensor); same rules for ``a`` as :func:`axpy_`."""
    if is_host_scalar(a):
        return y.add(x, alpha=a)
    return y.addcmul(x, cast_like(a, y))


def item(x: float | Tensor) -> float:
    """A Python number for a ``torch._foreach_*`` scalar argument (exact: float32 -> float)."""
    return x.item() if isinstance(x, Tensor) else x


def to_scalar(x: float | Tensor) -> float | Tensor:
    """A 1-element tensor as a 0-dim tensor, like ``torch.optim.optimizer._to_scalar``."""
    if isinstance(x, Tensor) and x.dim() != 0:
        return x.squeeze()
    return x


def saved_copy(x: Tensor, differentiable: bool) -> Tensor:
    """``x`` for an op whose backward keeps it: a copy when ``differentiable`` (autograd records
    the step), because this step or the next updates ``x`` in place (the parameter, ``exp_avg``,
    ``momentum_buffer``, ``step``) and autograd refuses a saved tensor changed since (the
    ``.clone()``s of torch.optim's differentiable path); ``x`` itself otherwise (no copy)."""
    return x.clone() if differentiable else x


def view_as_real(params: list[Tensor], *others: list[Tensor]) -> None:
    """Replace complex tensors (and their state/grad partners) by real views, in the lists."""
    for i, p in enumerate(params):
        if torch.is_complex(p):
            params[i] = torch.view_as_real(p)
            for other in others:
                other[i] = torch.view_as_real(other[i])


# --------------------------------------------------------------------------------------------
# Checks at the boundary
# --------------------------------------------------------------------------------------------
#: how torch.optim's messages name a hyperparameter ("Invalid learning rate: -1.0"); any other
#: name ``x`` reads "Invalid x value: ..." ("Invalid weight_decay value: -0.1")
_MESSAGE_NAMES = {"lr": "learning rate", "eps": "epsilon value"}


def invalid(name: str, value: Any, rule: str = "") -> ValueError:
    """``ValueError("Invalid <name>: <value>")`` in torch.optim's words, value as torch prints it.

    ``rule`` (for checks torch.optim does not make) follows in parentheses:
    ``invalid("decay", "x", "must be one of ...")`` -> ``Invalid decay value: 'x' (must be one of ...)``.
    """
    shown = repr(value) if isinstance(value, str) else f"{value}"
    message = f"Invalid {_MESSAGE_NAMES.get(name, f'{name} value')}: {shown}"
    return ValueError(f"{message} ({rule})" if rule else message)


def check_one_element(name: str, value: Any) -> None:
    """A tensor hyperparameter must hold one number: ``Tensor lr must be 1-element`` (torch's text)."""
    if isinstance(value, Tensor) and value.numel() != 1:
        raise ValueError(f"Tensor {name} must be 1-element")


def check_nonnegative(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value >= 0`` (NaN fails too), in torch.optim's words."""
    check_one_element(name, value)
    if not value >= 0:
        raise invalid(name, value)


def check_beta(index: int, value: Any) -> None:
    """Raise ``ValueError`` unless ``0 <= betas[index] < 1``, in torch.optim's words.

    The 1-element check comes first: torch.optim compares first, and a tensor of several
    betas then fails with autograd's "Boolean value of Tensor ... is ambiguous" RuntimeError.
    """
    check_one_element(f"betas[{index}]", value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid beta parameter at index {index}: {value}")


def check_beta_types(betas: Sequence[Any]) -> None:
    """Both betas floats or both tensors, as torch.optim.Adam requires (its text)."""
    if not all(isinstance(b, float) for b in betas) and not all(isinstance(b, Tensor) for b in betas):
        raise ValueError("betas must be either both floats or both Tensors")


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``; suggest the closest."""
    if value in choices:
        return
    close = difflib.get_close_matches(str(value), choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise invalid(name, value, f"must be one of {tuple(choices)}{hint}")


#: the dtypes optimizer state may be kept in (``state_dtype``); None: the parameter's dtype
STATE_DTYPES = (None, torch.float32, torch.bfloat16, torch.float16)
#: parameter dtypes for which Kahan summation (``kahan_sum``) applies
LOW_PRECISION = (torch.bfloat16, torch.float16)


def check_state_dtype(value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a dtype state may be kept in."""
    if value not in STATE_DTYPES:
        raise invalid(
            "state_dtype", value,
            "must be None (the parameter's dtype), torch.float32, torch.bfloat16 or torch.float16",
        )


def kahan_for(group: dict[str, Any], p: Tensor) -> bool:
    """Whether parameter ``p`` gets a Kahan compensation buffer: ``kahan_sum=True`` for a
    bfloat16/float16 parameter, or ``kahan_sum=None`` (default) with ``fused=True`` where
    initopt's Triton kernels run (so torch.optim's numerics stay everywhere else)."""
    if p.dtype not in LOW_PRECISION:
        return False
    choice = group.get("kahan_sum")
    if choice is None:
        from . import _triton

        return bool(group.get("fused")) and _triton.usable([p])
    return bool(choice)


def low_precision_state(group: dict[str, Any], p: Tensor) -> bool:
    """``p``'s update needs initopt's own kernels (state in another dtype, or Kahan summation)."""
    sd = group.get("state_dtype")
    return (sd is not None and sd != p.dtype) or kahan_for(group, p)


def present(values: list[Tensor | None]) -> list[Tensor | None] | None:
    """``values`` if any entry is a tensor, else None (no Kahan buffers in this group)."""
    return values if values.count(None) != len(values) else None  # count: one C loop


def device_tensor(x: Any) -> bool:
    """A tensor hyperparameter that is not a host scalar (see :func:`is_host_scalar`)."""
    return isinstance(x, Tensor) and not is_host_scalar(x)




# --------------------------------------------------------------------------------------------
# Base class
# --------------------------------------------------------------------------------------------
class BaseOptimizer(torch.optim.Optimizer):
    """``torch.optim.Optimizer`` plus per-group checks and defaults for missing group keys.

    Subclasses set :attr:`group_defaults` (keys a loaded state dict may lack, with the value to
    assume: what an optimizer saved by ``torch.optim`` or by an older initopt meant) and implement
    :meth:`check_group` (raise ``ValueError`` for a bad hyperparameter).
    """

    #: group keys that a loaded state dict may lack -> the value they had when absent
    group_defaults: dict[str, Any] = {}

    def check_group(self, group: dict[str, Any]) -> None:
        """Validate one param group's hyperparameters (``ValueError``); may fill derived keys."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a param group (as ``torch.optim``) and validate its hyperparameters.

        ``torch.optim`` validates constructor arguments only, so ``{"params": ..., "lr": -1}``
        passes there; here it raises ``ValueError``. A group with ``lr_scale`` (or
        ``weight_decay_scale``) and no ``lr`` (``weight_decay``) gets the optimizer's times the scale:
        the groups of ``initopt.init.parametrize`` (muP's per-layer multipliers).
        """
        for key in ("lr", "weight_decay"):
            scale = param_group.get(f"{key}_scale")
            if scale is not None and key not in param_group and key in self.defaults:
                param_group = {**param_group, key: self.defaults[key] * scale}
        super().add_param_group(param_group)
        try:
            self.check_group(self.param_groups[-1])
            self.complete_group(self.param_groups[-1])
        except ValueError:
            self.param_groups.pop()
            raise
        self._decide_later_group(self.param_groups[-1])

    #: state buffers that ``state_dtype`` may keep in another dtype than the parameter
    low_precision_state_keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer")

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch.optim's loading (state cast to each parameter's dtype and device), then moment
        buffers back to the group's ``state_dtype`` where one is set (exact: they were saved in it)."""
        super().load_state_dict(state_dict)
        self.kernel_plans().clear()
        for group in self.param_groups:  # a checkpoint of torch's default path, into a fused default
            self._decide_later_group(group)
        for group in self.param_groups:
            dtype = group.get("state_dtype")
            if dtype is None:
                continue
            for p in group["params"]:
                state = self.state.get(p, {})
                for key in self.low_precision_state_keys:
                    if isinstance(state.get(key), Tensor):
                        state[key] = state[key].to(dtype)

    def choose_default_fused(self) -> None:
        """``fused=None`` and ``foreach=None`` on CUDA parameters with Triton installed: initopt's fused
        kernels, the fastest correct path there (measured against torch's for-loop, foreach and fused
        paths in docs/benchmarks.md); elsewhere torch's default stays (foreach on CUDA, the loop on
        the CPU). Called at the end of construction; groups added later and groups of a loaded state
        dict are decided the same way, one by one. Such groups keep torch's default of no Kahan
        buffers (``kahan_sum=False`` unless given). AMP's GradScaler asks the optimizer, not its
        groups, whether it unscales the gradients itself: only when every group is fused."""
        eligible = [self._default_fused_eligible(g) for g in self.param_groups]
        if not all(eligible) or not any(g["params"] for g in self.param_groups):
            return
        self._fused_by_default = True
        for group in self.param_groups:
            self._use_default_fused(group)
        self._step_supports_amp_scaling = True

    @staticmethod
    def _default_fused_eligible(group: dict[str, Any]) -> bool:
        return default_fused(group) is not None

    def _use_default_fused(self, group: dict[str, Any]) -> None:
        group["fused"] = True
        if group.get("kahan_sum", False) is None:
            group["kahan_sum"] = False
        for p in group["params"]:  # a step count loaded from a CPU checkpoint goes where the kernels read it
            step = self.state.get(p, {}).get("step")
            if isinstance(step, Tensor) and (step.device != p.device or step.dtype != torch.float32):
                self.state[p]["step"] = step.to(p.device, torch.float32)

    def _decide_later_group(self, group: dict[str, Any]) -> None:
        """A group added after construction, or loaded, in an optimizer whose default is fused."""
        if not getattr(self, "_fused_by_default", False):
            return
        if self._default_fused_eligible(group):
            self._use_default_fused(group)
        self._hand_amp_to_fused_groups()

    def _hand_amp_to_fused_groups(self) -> None:
        """GradScaler hands over the scale (``_step_supports_amp_scaling``) only if every group is fused."""
        self._step_supports_amp_scaling = all(bool(g["fused"]) for g in self.param_groups)

    def sparse_fallback(self, group: dict[str, Any], has_sparse_grad: bool,
                        grads: list[Tensor]) -> tuple[bool | None, Tensor | None, Tensor | None, bool]:  # fmt: skip
        """``(fused, grad_scale, found_inf, skip)`` for this step of ``group``. A sparse gradient
        (``nn.Embedding(sparse=True)``) in a group made fused by default takes torch's default path;
        there AMP's GradScaler, which hands a fused optimizer the scale, is done here as it does it:
        a step with inf/nan is skipped (one host sync), else the gradients are unscaled in place."""
        grad_scale, found_inf = getattr(self, "grad_scale", None), getattr(self, "found_inf", None)
        if not (has_sparse_grad and getattr(self, "_fused_by_default", False) and group["fused"]):
            return group["fused"], grad_scale, found_inf, False
        if found_inf is not None and bool(found_inf.item()):
            return None, None, None, True
        if grad_scale is not None:
            inverse = grad_scale.double().reciprocal().float()
            for g in grads:
                (g._values() if g.is_sparse else g).mul_(inverse.to(g.device))
        return None, None, None, False

    def __getstate__(self) -> dict[str, Any]:
        """torch.optim's state (defaults, state, param groups) and whether fused is the default here."""
        state = super().__getstate__()
        if getattr(self, "_fused_by_default", False):
            state["_fused_by_default"] = True
        return state

    def kernel_plans(self) -> dict:
        """This optimizer's cache of checked Triton launches (tables of its tensors' addresses),
        kept between steps; not part of the state dict, and emptied when one is loaded."""
        plans = self.__dict__.get("_kernel_plans")
        if plans is None:
            plans = self.__dict__["_kernel_plans"] = {}
        return plans

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self.group_defaults.items():
                group.setdefault(key, value)
            self.complete_group(group)
        if getattr(self, "_fused_by_default", False):
            self._hand_amp_to_fused_groups()

    def complete_group(self, group: dict[str, Any]) -> None:
        """Fill keys derived from others after loading a state dict (default: nothing)."""
