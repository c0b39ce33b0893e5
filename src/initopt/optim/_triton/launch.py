"""Launch the Triton kernels on lists of tensors: grouping, tables, hyperparameters on the device.

Hyperparameters may be Python numbers, 0-dim tensors, or 1-dim tensors with one value per row
(configuration) of the parameters. Numbers go to the device once, as float64, and are reused
while they stay the same; tensors are read where they are (a device ``lr`` that a scheduler
updates in place, or that a CUDA graph replays, needs no host synchronization).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import triton
from torch import Tensor

from . import kernels
from .tables import TableCache, Tables

#: elements per program; 4 warps of 32 threads x 16 elements
BLOCK = 2048
NUM_WARPS = 4
#: step counts per program of the counting kernel
COUNT_BLOCK = 1024

_tables = TableCache()
_numbers: dict[tuple, Tensor] = {}

_DTYPES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


def triton_dtype(dtype: torch.dtype) -> Any:
    import triton.language as tl

    if dtype not in _DTYPES:
        raise TypeError(f"the Triton kernels take float32, bfloat16 or float16 tensors, not {dtype}")
    return getattr(tl, _DTYPES[dtype])


def hyperparameter(value: float | Tensor, device: torch.device, rows: int) -> tuple[Tensor, int]:
    """``(tensor on device, stride)`` for a number, a 0-dim tensor or a ``(rows,)`` column."""
    if isinstance(value, Tensor):
        if value.device != device:
            value = value.to(device, torch.float64)
        if value.dim() == 0 or value.numel() == 1:
            return value.reshape(1), 0
        if value.dim() != 1 or value.numel() != rows:
            raise ValueError(f"a per-configuration hyperparameter needs shape ({rows},), got {tuple(value.shape)}")
        return value, value.stride(0)
    key = (str(device), float(value))
    tensor = _numbers.get(key)
    if tensor is None:
        if len(_numbers) > 256:  # an lr schedule makes a new number every step
            _numbers.clear()
        tensor = _numbers[key] = torch.tensor([float(value)], dtype=torch.float64, device=device)
    return tensor, 0


def _groups(columns: Sequence[Sequence[Tensor | None]]) -> dict[tuple, list[int]]:
    """Indices of the tensors that share device and the dtypes of parameter, gradient and state."""
    out: dict[tuple, list[int]] = {}
    for i, p in enumerate(columns[0]):
        state = next((c[i] for c in columns[2:5] if c and c[i] is not None), None)
        key = (p.device, p.dtype, columns[1][i].dtype, None if state is None else state.dtype)
        out.setdefault(key, []).append(i)
    return out


def _column(values: Sequence[Tensor | None] | None, count: int) -> list[Tensor | None]:
    return list(values) if values else [None] * count


class NotContiguous(ValueError):
    """A tensor the kernels cannot take as it is laid out (channels_last, a transposed view): the
    callers in :mod:`initopt.optim.fused` hand such a call to torch's fused kernel, which can."""


def _check(params: Sequence[Tensor], *others: Sequence[Tensor | None]) -> None:
    for column in (params, *others):
        for x in column:
            if x is None:
                continue
            if x.device != params[0].device:
                raise ValueError("the Triton kernels need every tensor on the parameters' device")
            if not x.is_contiguous():
                raise NotContiguous("the Triton kernels need contiguous tensors")


def _check_steps(params: Sequence[Tensor], steps: Sequence[Tensor | None]) -> None:
    for p, s in zip(params, steps):
        if s is not None and (s.dtype != torch.float32 or s.device != p.device or s.numel() != 1):
            raise ValueError("the Triton kernels need each step count as a one-element float32 tensor on its "
                             f"parameter's device, got {s.dtype} on {s.device}")


def _kahan(compensation: Sequence[Tensor | None]) -> bool:
    """Kahan buffers for every tensor of a launch, or for none."""
    given = {x is not None for x in compensation}
    if len(given) > 1:
        raise ValueError("Kahan buffers must be given for all parameters of one dtype or for none")
    return given == {True}


@dataclass(frozen=True)
class _Launch:
    """One kernel launch: the tensors of one (device, dtypes) group and the tables that cover them."""

    device: torch.device
    dtypes: tuple[torch.dtype, torch.dtype, torch.dtype | None]  # parameter, gradient, state
    kahan: bool
    tables: tuple[Tables, ...]


_address = Tensor.data_ptr


def _addresses(column: list[Tensor | None]) -> tuple[int, ...] | None:
    """Every tensor's address (0 for None), or None for a column of None (an unused buffer). Tested by
    identity: ``None in column`` would call ``Tensor.__eq__`` on every tensor, tens of microseconds each."""
    try:
        return tuple(map(_address, column))
    except TypeError:  # a None among the tensors
        if all(x is None for x in column):
            return None
        return tuple(0 if x is None else x.data_ptr() for x in column)


def _first_dtypes(columns: list[list[Tensor | None]]) -> tuple:
    """Each column's first dtype: state made again in another ``state_dtype`` may land at the old
    addresses."""
    return tuple(None if c[0] is None else c[0].dtype for c in columns)


class _Plan:
    """The launches of one call and what they assume, kept between calls while it holds: every buffer
    (parameters, gradients, state, Kahan buffers, step counts) at the same address, the parameters of
    the same sizes and contiguous, the gradients contiguous. A gradient set to None and made again
    usually lands at the same address; a new address, new storage for a parameter or a state tensor,
    or a loaded state dict rebuilds the plan. Checking costs a few attribute reads per tensor, against
    a dozen for :func:`_check` and :func:`_groups`; no tensor is kept alive by a plan.

    ``distinct_steps``: no step tensor appears twice (the counting kernel then counts each once per
    call; a shared one, which torch counts once per tensor, is counted on the host)."""

    def __init__(self, columns: list[list[Tensor | None]], launches: list[_Launch], distinct_steps: bool):
        self.addresses = [_addresses(c) for c in columns]
        self.sizes = tuple(map(Tensor.numel, columns[0]))
        self.dtypes = _first_dtypes(columns)
        self.launches = launches
        self.distinct_steps = distinct_steps

    def fits(self, columns: list[list[Tensor | None]]) -> bool:
        return (
            all(map(operator.eq, map(_addresses, columns), self.addresses))
            and _first_dtypes(columns) == self.dtypes
            and all(map(Tensor.is_contiguous, columns[1]))
            and all(map(Tensor.is_contiguous, columns[0]))
            and tuple(map(Tensor.numel, columns[0])) == self.sizes
        )


def _plan(columns: list[list[Tensor | None]], *, rows: int, active: Sequence[bool] | None,
          plans: dict | None, steps: bool) -> _Plan:  # fmt: skip
    """The launches for ``columns`` (0 params, 1 grads, 2-4 state, 5 Kahan, 6 steps): checked and
    grouped by (device, dtypes), each group's tables; from ``plans`` (an optimizer's own cache) when
    its tensors are where they were at the last call (see :class:`_Plan`)."""
    key = (id(columns[0][0]), len(columns[0]), rows, None if active is None else tuple(active), BLOCK)
    if plans is not None:
        plan = plans.get(key)
        if plan is not None and plan.fits(columns):
            return plan
    _check(*columns[:6])
    distinct_steps = True
    if steps:
        _check_steps(columns[0], columns[6])
        distinct_steps = len({x.data_ptr() for x in columns[6]}) == len(columns[6])
    launches = []
    for (device, p_dtype, g_dtype, s_dtype), idx in _groups(columns).items():
        cols = [[c[i] for i in idx] for c in columns]
        tables = _tables.get(cols, rows=rows, active=active, block=BLOCK, device=device)
        launches.append(_Launch(device, (p_dtype, g_dtype, s_dtype), _kahan(cols[5]), tuple(tables)))
    plan = _Plan(columns, launches, distinct_steps)
    if plans is not None:
        if len(plans) >= 64:  # param groups of one optimizer: a handful
            plans.clear()
        plans[key] = plan
    return plan


def adam_(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    exp_avgs: Sequence[Tensor],
    exp_avg_sqs: Sequence[Tensor],
    max_exp_avg_sqs: Sequence[Tensor] | None,
    state_steps: Sequence[Tensor],
    *,
    lr: float | Tensor,
    beta1: float | Tensor,
    beta2: float | Tensor,
    weight_decay: float | Tensor,
    eps: float | Tensor,
    decoupled_weight_decay: bool,
    amsgrad: bool,
    maximize: bool,
    compensation: Sequence[Tensor] | None = None,
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
    rows: int = 1,
    active: Sequence[bool] | None = None,
    l2_weight_decay: float | Tensor | None = None,
    count_steps: bool = False,
    plans: dict | None = None,
) -> None:
    """One Adam/AdamW step over all tensors, one launch per (device, dtypes).

    ``count_steps``: add 1 to every step count first, by one small kernel per launch (one step
    tensor per parameter; skipped steps under AMP do not count), as torch.optim counts before its
    kernel; otherwise the caller has counted. ``rows``/``active``: the parameters are
    ``(rows, ...)`` stacks of configurations whose hyperparameters may be ``(rows,)`` columns;
    inactive rows are left untouched. A bundle that mixes Adam and AdamW passes ``weight_decay``
    (decoupled, per row) and ``l2_weight_decay``. ``plans``: a dict the caller keeps (an
    optimizer's), where the checked launches are kept between calls (see :class:`_Plan`).
    """
    count = len(params)
    if count == 0:
        return
    columns = [
        list(params), list(grads), list(exp_avgs), list(exp_avg_sqs),
        _column(max_exp_avg_sqs if amsgrad else None, count), _column(compensation, count), list(state_steps),
    ]  # fmt: skip
    if l2_weight_decay is None:
        decoupled, l2 = (weight_decay, 0.0) if decoupled_weight_decay else (0.0, weight_decay)
    else:
        decoupled, l2 = weight_decay, l2_weight_decay
    plan = _plan(columns, rows=rows, active=active, plans=plans, steps=True)
    count_on_device = count_steps and plan.distinct_steps
    if count_steps and not count_on_device:
        _count_shared_steps(state_steps, found_inf)
    for group in plan.launches:
        device = group.device
        h = [hyperparameter(x, device, rows) for x in (lr, beta1, beta2, l2, decoupled, eps)]
        p_dtype, g_dtype, s_dtype = map(triton_dtype, group.dtypes)
        inf = _on(found_inf, device)
        for tables in group.tables:
            if count_on_device:
                count = tables.tensors.shape[0]
                kernels.count_steps_kernel[(triton.cdiv(count, COUNT_BLOCK),)](
                    tables.tensors, count, inf, HAS_FOUND_INF=inf is not None, BLOCK=COUNT_BLOCK)
            if tables.programs == 0:  # no element to update (empty tensors, or every row frozen)
                continue
            kernels.adam_kernel[(tables.programs,)](
                tables.blocks, tables.tensors,
                *(x for pair in h for x in pair),
                _on(grad_scale, device), inf,
                P_DTYPE=p_dtype, G_DTYPE=g_dtype, S_DTYPE=s_dtype,
                AMSGRAD=amsgrad, MAXIMIZE=maximize, KAHAN=group.kahan,
                HAS_GRAD_SCALE=grad_scale is not None, HAS_FOUND_INF=inf is not None,
                ALIGNED=tables.aligned, BLOCK=BLOCK, num_warps=NUM_WARPS,
            )  # fmt: skip


def _count_shared_steps(state_steps: Sequence[Tensor], found_inf: Tensor | None) -> None:
    """Step tensors shared by several parameters: each counts once per parameter that lists it, as
    torch.optim's loop counts it (a foreach add over aliased tensors races on CUDA), and a step AMP
    skips does not count."""
    times: dict[int, list] = {}
    for step in state_steps:
        times.setdefault(step.data_ptr(), [step, 0])[1] += 1
    for step, n in times.values():
        if found_inf is None:
            step.add_(n)
        else:
            step.add_(n * (1 - (_on(found_inf, step.device) != 0).to(step.dtype)))


def sgd_(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    momentum_buffers: Sequence[Tensor] | None,
    *,
    lr: float | Tensor,
    momentum: float | Tensor,
    dampening: float | Tensor,
    weight_decay: float | Tensor,
    nesterov: bool,
    maximize: bool,
    first_step: bool,
    compensation: Sequence[Tensor] | None = None,
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
    rows: int = 1,
    active: Sequence[bool] | None = None,
    plans: dict | None = None,
) -> None:
    """One SGD step over all tensors; ``momentum_buffers`` None: plain SGD (no buffer). ``plans``:
    as for :func:`adam_`."""
    count = len(params)
    if count == 0:
        return
    has_momentum = momentum_buffers is not None
    columns = [list(params), list(grads), _column(momentum_buffers, count), [None] * count, [None] * count,
               _column(compensation, count), [None] * count]  # fmt: skip
    for group in _plan(columns, rows=rows, active=active, plans=plans, steps=False).launches:
        device = group.device
        h = [hyperparameter(x, device, rows) for x in (lr, momentum, dampening, weight_decay)]
        p_dtype, g_dtype, s_dtype = group.dtypes
        for tables in group.tables:
            if tables.programs == 0:
                continue
            kernels.sgd_kernel[(tables.programs,)](
                tables.blocks, tables.tensors,
                *(x for pair in h for x in pair),
                _on(grad_scale, device), _on(found_inf, device),
                P_DTYPE=triton_dtype(p_dtype), G_DTYPE=triton_dtype(g_dtype),
                S_DTYPE=triton_dtype(s_dtype or p_dtype),
                MOMENTUM=has_momentum, FIRST_STEP=first_step, NESTEROV=nesterov, MAXIMIZE=maximize,
                KAHAN=group.kahan,
                HAS_GRAD_SCALE=grad_scale is not None, HAS_FOUND_INF=found_inf is not None,
                ALIGNED=tables.aligned, BLOCK=BLOCK, num_warps=NUM_WARPS,
            )  # fmt: skip


def _on(x: Tensor | None, device: torch.device) -> Tensor | None:
    return None if x is None else x.to(device, non_blocking=True)
