"""Which implementation runs an optimizer step: the one place that decides, and says why.

An optimizer class (SGD, Adam, AdamW, ScheduleFreeAdamW) steps a param group by one of three paths:

- ``"single"``: a readable per-tensor loop over the pure update functions; torch.optim's default on
  the CPU, and the only path that records the step for autograd (``differentiable=True``);
- ``"foreach"``: ``torch._foreach_*`` over tensor lists; torch.optim's default on CUDA;
- ``"fused"``: one kernel per device and dtype, by one of three implementations
  (:func:`fused_implementation`): initopt's Triton kernels, their arithmetic in PyTorch ops
  (``"reference"``: state in another dtype or Kahan summation where Triton cannot run), or PyTorch's
  own fused kernels (``"torch"``, bitwise ``torch.optim(..., fused=True)``).

:func:`step_path` decides a call's path; :func:`default_fused` whether a group left at
``fused=None, foreach=None`` takes initopt's fused kernels by default (CUDA with Triton);
:func:`bundle_path` which path a study bundle's batched optimizer takes. Each returns a
:class:`Decision` whose ``why`` says which rule decided. :func:`describe` lists an optimizer's
groups with their decisions.

Measured on CPU (1 thread, ms per step, single / foreach / fused): 200 tensors of 64x64 and 64, SGD
with momentum 5.8 / 3.2 / 1.3, AdamW 20 / 9.8 / 2.9; 40 tensors of 512x512 and 512, SGD 8.3 / 9.8 /
5.4, AdamW 25 / 34 / 8.5: foreach wins for many small tensors and loses for large ones (its
intermediates are parameter-sized lists), ``fused=True`` wins both. So the default keeps torch's
choice on the CPU (:data:`FOREACH_ON_CPU` False: the same path and bits as torch.optim's default)
and ``fused=True`` is the advice for speed there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor
from torch.utils._foreach_utils import _get_foreach_kernels_supported_devices

__all__ = ["FOREACH_ON_CPU", "Decision", "bundle_path", "default_fused", "describe", "fused_implementation",
           "step_path"]

Path = Literal["single", "foreach", "fused"]
Implementation = Literal["triton", "reference", "torch"]
IMPLEMENTATIONS: tuple[Implementation, ...] = ("triton", "reference", "torch")
BUNDLE_PATHS = ("fast", "reference", "triton")

#: Whether ``foreach=None`` picks the foreach path for CPU tensors too (torch.optim: CUDA only).
FOREACH_ON_CPU: bool = False
#: parameter dtypes the fused kernels take
FUSED_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
_PLAIN = (torch.Tensor, torch.nn.Parameter)


@dataclass(frozen=True)
class Decision:
    """A path (``single``, ``foreach``, ``fused``, or a bundle's ``fast``, ``reference``, ``triton``),
    the fused implementation where there is one, and the rule that chose them."""

    path: str
    why: str
    implementation: str | None = None


def _foreach_by_default(params: Iterable[Tensor], differentiable: bool) -> bool:
    """torch.optim's rule (``_default_to_fused_or_foreach``), plus the CPU if :data:`FOREACH_ON_CPU`."""
    if torch.jit.is_scripting() or differentiable:
        return False
    devices = set(_get_foreach_kernels_supported_devices())
    if FOREACH_ON_CPU:
        devices.add("cpu")
    return all(p is None or (type(p) in _PLAIN and p.device.type in devices) for p in params)


def step_path(params: Sequence[Tensor], *, foreach: bool | None, fused: bool | None, differentiable: bool,
              tensor_hyperparameters: bool = False, low_precision: bool = False) -> Decision:
    """The path of one step over ``params``, as torch.optim decides it: ``fused=True`` wins;
    ``foreach=True`` asks for foreach; ``False`` for either forces the loop; with both ``None``, foreach
    where torch.optim would take it, except when a hyperparameter is a tensor the foreach path would
    read back from the device (``tensor_hyperparameters``), where torch too falls back to the loop.
    State in another dtype than the parameters, or Kahan summation (``low_precision``), takes
    initopt's fused kernels whatever was asked."""
    if fused or low_precision:
        why = "fused=True" if fused else "state in another dtype than the parameters, or Kahan summation"
        return Decision("fused", why, fused_implementation(list(params), low_precision))
    if foreach is None and fused is None:
        if differentiable:
            return Decision("single", "differentiable=True: only the per-tensor loop records the step for autograd")
        if tensor_hyperparameters:
            return Decision("single", "a hyperparameter is a tensor on the device: foreach would read it back every step")
        if _foreach_by_default(params, differentiable):
            return Decision("foreach", "torch.optim's default on these devices")
        return Decision("single", "torch.optim's default on the CPU (FOREACH_ON_CPU is False)")
    if foreach:
        return Decision("foreach", "foreach=True")
    return Decision("single", "foreach=False")


def fused_implementation(params: list[Tensor], low_precision: bool, choice: Implementation | None = None) -> str:
    """The fused kernel for ``params``: ``choice`` if given (checked), else Triton where it runs, else
    the reference for low-precision state or Kahan summation, else PyTorch's fused kernels."""
    from . import _triton

    if choice is not None:
        if choice not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {', '.join(IMPLEMENTATIONS)}, got {choice!r}")
        if choice == "triton" and not _triton.usable(params):
            raise RuntimeError(f"the Triton kernels cannot run here: {_triton.why_not(params)}")
        if choice == "torch" and low_precision:
            raise RuntimeError("PyTorch's fused kernels keep state in the parameter's dtype and have no Kahan summation")
        return choice
    if _triton.usable(params):
        return "triton"
    return "reference" if low_precision else "torch"


def default_fused(group: dict[str, Any]) -> Decision | None:
    """A group left at ``fused=None, foreach=None`` on CUDA parameters with Triton installed: initopt's
    fused kernels, the fastest correct path there (docs/benchmarks.md); None where torch's default stays."""
    from . import _triton

    if group["fused"] is not None or group["foreach"] is not None or group["differentiable"]:
        return None
    params = group["params"]
    # plain tensors only: a DTensor (FSDP2) or another subclass takes torch's foreach path
    if not all(type(p) in _PLAIN and p.is_cuda and p.dtype in FUSED_DTYPES for p in params):
        return None
    if params and not _triton.usable(params):
        return None
    return Decision("fused", "fused=None and foreach=None on CUDA with Triton: initopt's kernels by default", "triton")


def bundle_path(device: torch.device | str) -> Decision:
    """A study bundle's batched optimizer: Triton on CUDA where it is installed (per-configuration
    hyperparameters read on the device, no host synchronization, so a step fits a CUDA graph), else
    PyTorch's fused kernels over runs of equal hyperparameters (``fast``)."""
    from . import _triton

    if torch.device(device).type == "cuda" and _triton.installed():
        return Decision("triton", "CUDA with Triton: one launch per segment, hyperparameters on the device")
    return Decision("fast", "PyTorch's fused kernels over runs of configurations with equal hyperparameters")


def describe(optimizer: torch.optim.Optimizer) -> list[str]:
    """One line per param group: its parameters and the path its next step takes, with the reason."""
    lines = []
    for i, group in enumerate(optimizer.param_groups):
        params = [p for p in group["params"]]
        if "fused" not in group:
            lines.append(f"group {i} ({len(params)} tensors): {type(optimizer).__name__} steps tensor by tensor")
            continue
        decision = step_path(params, foreach=group.get("foreach"), fused=group.get("fused"),
                             differentiable=group.get("differentiable", False))
        kernel = f" ({decision.implementation})" if decision.implementation else ""
        lines.append(f"group {i} ({len(params)} tensors): {decision.path}{kernel}: {decision.why}")
    return lines
