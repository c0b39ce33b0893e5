r"""One optimizer step for K configurations at once, each with its own hyperparameters.

Study bundles stack each parameter of K configurations on a leading axis, ``(K, *shape)``. This
optimizer updates them all, configuration ``k`` with its own ``lr``, ``weight_decay``, ``betas``,
``eps``, ``momentum`` and ``dampening``:

- **sgd** family: PyTorch's SGD (``b <- mu*b + (1-tau)*g``, ``p <- p - lr*b``, L2 decay in the grad).
- **adam** family: Adam (L2 decay in the grad) and AdamW (decoupled ``p <- p*(1 - lr*wd)``, or
  ``p*(1 - wd)`` for ``decay="independent"`` at a constant lr) in one update, the unused decay of each
  configuration being zero, which leaves the values exactly as the other rule would.

Two paths, tested against each other and against ``torch.optim`` run configuration by configuration:

- ``reference``: the pure functions of :mod:`initopt.optim.adam` / :mod:`initopt.optim.sgd` with the
  hyperparameters as ``(K, 1, ...)`` tensors broadcast against the stacked parameters.
- ``fast`` (default): configurations with equal hyperparameters are contiguous (the study planner
  sorts them), so each run of them — a *slab*, ``P[a:b]`` — is updated by one call of PyTorch's fused
  kernel (``torch._fused_adam_``, ``_fused_adamw_``, ``_fused_sgd_``) with scalar hyperparameters.
  Measured about 3x faster than the broadcast form on a 2-core CPU (benchmarks/study_throughput.py).
- ``triton``: one launch of initopt's Triton kernel per segment, every configuration reading its own
  hyperparameters from ``(K,)`` columns on the device and frozen configurations given no program;
  no host synchronization, so the whole training step can be captured in a CUDA graph. The
  default on CUDA when Triton is installed (:func:`default_path`).

``freeze(mask)`` leaves configurations out of every later step: their parameters stay as they are
when frozen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from initopt.optim.adam import adam_moments_, adam_update_
from initopt.optim.batched_families import FAMILIES, load_segment_state, segment_class, segment_state
from initopt.optim.decay import decoupled_decay_, l2_grad
from initopt.optim.paths import BUNDLE_PATHS, bundle_path
from initopt.optim.sgd import nesterov_direction, sgd_momentum, sgd_update_

PATHS = BUNDLE_PATHS
ADAM_FAMILY = ("adam", "adamw")


def default_path(device: torch.device | str) -> str:
    """The bundle's path by default: :func:`initopt.optim.paths.bundle_path`."""
    return bundle_path(device).path


def _family(names: set[str]) -> str:
    if names <= {"sgd"}:
        return "sgd"
    if names <= set(ADAM_FAMILY):
        return "adam"
    if len(names) == 1 and next(iter(names)) in FAMILIES:
        return next(iter(names))
    raise ValueError(f"one segment of a batched optimizer takes one family (sgd, adam/adamw, {', '.join(FAMILIES)}), "
                     f"got {sorted(names)}")


def _slab_key(hyper: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in hyper.items()))


class BatchedOptimizer:
    """Steps stacked parameters ``(K, ...)``; ``hypers[k]`` holds configuration k's ``name`` and values.

    ``hypers[k]`` keys: ``name`` (sgd / adam / adamw), ``lr``, ``weight_decay``, and per family
    ``momentum``, ``dampening``, ``nesterov`` or ``betas``, ``eps``, ``amsgrad``, ``decay``. Configurations
    of one family (sgd, or adam/adamw) must be contiguous; a bundle may hold both families, each run of
    them is a *segment* with its own state. ``step(grads)`` takes the gradients (or reads ``param.grad``).
    """

    def __init__(self, params: Sequence[Tensor], hypers: Sequence[dict[str, Any]], path: str = "fast",
                 decay: Sequence[bool] | None = None, total_steps: int | None = None,
                 matrix: Sequence[bool] | None = None, scales: Sequence[tuple[float, float]] | None = None):
        """``decay[i]``: whether parameter ``i`` takes the configurations' weight decay (default: every
        one does); the others are stepped with weight decay 0, as a param group of ``param_groups``
        (biases and norms) is in torch.optim. ``total_steps``: the steps of the whole run, which the
        configurations' learning-rate schedules (``schedule``, ``warmup`` in ``hypers``) are laid over;
        each step's lr is ``lr * multiplier(t)``, computed on the device (no host synchronization).
        ``matrix[i]``: whether Muon configurations step parameter ``i`` with Muon (a hidden matrix) or
        with their AdamW (default: Muon for every parameter that is a matrix per configuration).
        ``scales[i]``: ``(lr_scale, weight_decay_scale)`` of parameter ``i`` for every configuration (muP's
        per-layer multipliers, ``initopt.init.parametrize``): it is stepped with ``lr * lr_scale`` and
        ``weight_decay * weight_decay_scale``, as its param group is by ``initopt.optim``."""
        if path not in PATHS:
            raise ValueError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
        self.params = list(params)
        self.k = len(hypers)
        if any(p.shape[0] != self.k for p in self.params):
            raise ValueError(f"every parameter needs a leading axis of {self.k} configurations")
        decay = [True] * len(self.params) if decay is None else [bool(d) for d in decay]
        if len(decay) != len(self.params):
            raise ValueError(f"decay needs one flag per parameter ({len(self.params)}), got {len(decay)}")
        scales = [(1.0, 1.0)] * len(self.params) if scales is None else [(float(a), float(b)) for a, b in scales]
        if len(scales) != len(self.params):
            raise ValueError(f"scales needs one (lr, weight decay) pair per parameter ({len(self.params)}), got {len(scales)}")
        # a group of parameters by decay (the decayed first) and by scales, then a segment per run of one family
        groups: dict[tuple, list[int]] = {}
        for i, (d, sc) in enumerate(zip(decay, scales)):
            groups.setdefault((not d, *sc), []).append(i)
        self.segments: list[_Segment] = []
        for (undecayed, lr_scale, wd_scale), group in sorted(groups.items()):
            tensors = [self.params[i] for i in group]
            start, segments = 0, []
            for k in range(1, self.k + 1):
                if k == self.k or _family({hypers[k]["name"]}) != _family({hypers[start]["name"]}):
                    rows = [_scaled(h, lr_scale, 0.0 if undecayed else wd_scale) for h in hypers[start:k]]
                    family = _family({hypers[start]["name"]})
                    if family in FAMILIES:
                        flags = [self.params[i].dim() == 3 if matrix is None else matrix[i] for i in group]
                        segments.append(segment_class(family)(start, k, rows, tensors, path, group, flags))
                    else:
                        segments.append(_Segment(start, k, rows, tensors, path, group))
                    start = k
            families = [s.family for s in segments]
            if len(families) != len(set(families)):
                raise ValueError("configurations of one optimizer family must be contiguous in the bundle")
            self.segments += segments
        self._param_views: list[list[Tensor]] | None = None
        self.schedule = _schedule_column(hypers, total_steps, self.params[0].device)
        self._t = torch.zeros((), dtype=torch.float64, device=self.params[0].device)  # the step about to run, 0-based

    def train(self) -> None:
        """Before the steps of an epoch: segments with a mode (Schedule-Free's) put y in their parameter rows."""
        self._set_mode("train")

    def eval(self) -> None:
        """Before evaluating, a checkpoint or the end: segments with a mode put the average x in their rows."""
        self._set_mode("eval")

    def _set_mode(self, mode: str) -> None:
        for segment in self.segments:
            if callable(getattr(segment, mode, None)):
                getattr(segment, mode)()

    def freeze(self, mask: Tensor) -> None:
        """Leave the configurations where ``mask`` is True out of every later step."""
        for segment in self.segments:
            segment.freeze(mask[segment.start : segment.end])

    def state_dict(self) -> dict[str, Any]:
        """Each segment's step count and state tensors (references, not copies: serialize them to keep)."""
        return {"segments": [segment.state() for segment in self.segments], "t": self._t}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy ``state`` (of a bundle of the same configurations) into this optimizer's tensors, in
        place: the tensors keep their addresses (bound views, CUDA graphs stay valid)."""
        if len(state["segments"]) != len(self.segments):
            raise ValueError(f"state of {len(state['segments'])} segments for an optimizer of {len(self.segments)}")
        for segment, saved in zip(self.segments, state["segments"]):
            segment.load(saved)
        self._t.fill_(float(state.get("t", self.segments[0].step_count)))

    def bind_gradients(self, grads: Sequence[Tensor]) -> None:
        """Gradients that stay at these tensors (a hand-batched model's buffers, written in place every
        step): ``step()`` without arguments reads them, through views made once."""
        if len(grads) != len(self.params) or any(g.shape != p.shape or not g.is_contiguous() for g, p in zip(grads, self.params)):
            raise ValueError("bind_gradients needs one contiguous gradient per parameter, of its shape")
        for segment in self.segments:
            segment.bind([grads[i][segment.start : segment.end] for i in segment.index])

    def release_gradients(self) -> None:
        """Forget the gradients given to :meth:`bind_gradients` (``step`` needs its gradients again)."""
        for segment in self.segments:
            segment.bind(None)

    @torch.no_grad()
    def step(self, grads: Sequence[Tensor] | None = None) -> None:
        """One update from ``grads`` (one per parameter, ``(K, ...)``), else from the gradients given
        to :meth:`bind_gradients`, else from each ``param.grad``."""
        if self._param_views is None:
            self._param_views = [[self.params[i][s.start : s.end] for i in s.index] for s in self.segments]
        if self.schedule is not None:
            multiplier = self.schedule(self._t)
            self._t.add_(1.0)
            for segment in self.segments:
                segment.scale_lr(multiplier[segment.start : segment.end])
        if grads is None and self.segments[0].bound is not None:
            for segment, params in zip(self.segments, self._param_views):
                segment.step(params, segment.bound)
            return
        grads = [p.grad for p in self.params] if grads is None else list(grads)
        # autograd may hand back a transposed gradient (vmap over F.linear does); the fused kernels
        # walk memory in the parameter's order, so give them the same layout
        grads = [g if g.is_contiguous() else g.contiguous() for g in grads]
        for segment, params in zip(self.segments, self._param_views):
            segment.step(params, [grads[i][segment.start : segment.end] for i in segment.index])


class _Segment:
    """One optimizer family over configurations ``start:end`` of the bundle, with its own state."""

    def __init__(self, start: int, end: int, hypers: list[dict[str, Any]], params: Sequence[Tensor], path: str,
                 index: Sequence[int] | None = None):
        """``params``: the bundle's parameters this segment steps, ``index`` their places in the bundle's list."""
        self.start, self.end, self.hypers, self.path = start, end, hypers, path
        self.index = list(range(len(params))) if index is None else list(index)
        self.k = end - start
        self.family = _family({h["name"] for h in hypers})
        self.step_count = 0
        self.active = torch.ones(self.k, dtype=torch.bool)
        for flag in ("nesterov", "amsgrad"):
            if len({bool(h.get(flag, False)) for h in hypers}) > 1:
                raise ValueError(f"{flag} must be the same for every configuration of a bundle")
        self.nesterov = bool(hypers[0].get("nesterov", False))
        self.amsgrad = bool(hypers[0].get("amsgrad", False))
        shapes = [(p[start:end].shape, p) for p in params]
        zeros = lambda: [torch.zeros(shape, dtype=p.dtype, device=p.device) for shape, p in shapes]  # noqa: E731
        if self.family == "adam":
            self.exp_avg, self.exp_avg_sq = zeros(), zeros()
            self.max_exp_avg_sq = zeros() if self.amsgrad else None
        else:
            self.momentum_buffer = zeros()
        self.device = params[0].device
        self._tensors = self._hyper_tensors()
        self._slabs: list | None = None
        self.multiplier: Tensor | None = None  # this step's schedule multipliers (k,), when scheduled
        self.bound: list[Tensor] | None = None  # this segment's rows of gradients bound for good
        self._slab_grads: list[list[Tensor]] | None = None  # their views per slab, made once

    def freeze(self, mask: Tensor) -> None:
        mask = mask.to(self.active.device, torch.bool)
        if bool(mask.any()):
            self.active &= ~mask
            self._slabs, self._slab_grads = None, None
            self._tensors = self._hyper_tensors()

    def bind(self, grads: list[Tensor] | None) -> None:
        self.bound, self._slab_grads = grads, None

    def scale_lr(self, multiplier: Tensor) -> None:
        """This step's learning rates: each configuration's ``lr`` times its schedule's ``multiplier``
        (a ``(k,)`` float64 tensor), written into the tensors each path reads, on the device."""
        self.multiplier = multiplier
        if self.path == "triton":
            cols = self._triton_columns()
            cols["lr"].copy_(cols["base_lr"] * multiplier)
        elif self.path == "fast" and self._slabs is not None:
            for (rows, _, _, _, args), base in zip(self._slabs, self._slab_lrs):
                args["lr"].copy_(base * multiplier[rows.start])

    _STATE = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer")

    def state(self) -> dict[str, Any]:
        return segment_state(self)

    def load(self, saved: dict[str, Any]) -> None:
        load_segment_state(self, saved)
        if self.path == "triton":  # the kernel's step lives on the device; it equals the step count
            self._triton_columns()["step"].fill_(float(self.step_count))
        self.freeze(~saved["active"])

    def _column(self, values: list[float]) -> Tensor:
        # float64 columns: the pure functions round derived values (1 - beta2, lr / (1 - beta1^t)) to the
        # parameter's dtype as torch.optim's Python-float arithmetic does
        return torch.tensor(values, dtype=torch.float64, device=self.device)

    def _hyper_tensors(self) -> dict[str, Tensor]:
        """Per-configuration hyperparameters as (k,) columns; frozen configurations get lr 0."""
        h = self.hypers
        active = self.active.tolist()
        out = {"lr": self._column([x["lr"] * a for x, a in zip(h, active)])}
        if self.family == "sgd":
            out["l2"] = self._column([x.get("weight_decay", 0.0) for x in h])
            out["momentum"] = self._column([x.get("momentum", 0.0) for x in h])
            out["dampening"] = self._column([x.get("dampening", 0.0) for x in h])
        else:
            out["l2"] = self._column([x.get("weight_decay", 0.0) if x["name"] == "adam" else 0.0 for x in h])
            out["decoupled"] = self._column([_decoupled(x) * a if x["name"] == "adamw" else 0.0 for x, a in zip(h, active)])
            out["beta1"] = self._column([x.get("betas", (0.9, 0.999))[0] for x in h])
            out["beta2"] = self._column([x.get("betas", (0.9, 0.999))[1] for x in h])
            out["eps"] = self._column([x.get("eps", 1e-8) for x in h])
        out["active"] = self.active.to(self.device)
        return out

    @staticmethod
    def _view(t: Tensor, like: Tensor) -> Tensor:
        return t.view(-1, *([1] * (like.dim() - 1)))

    def step(self, params: list[Tensor], grads: list[Tensor]) -> None:
        """``params``, ``grads``: this segment's rows of the bundle's parameters and gradients."""
        self.step_count += 1
        if self.path == "reference":
            self._step_reference(params, grads)
        elif self.path == "triton":
            self._step_triton(params, grads)
        else:
            self._step_fast(params, grads)

    def _triton_columns(self) -> dict[str, Any]:
        """Per-configuration columns for the kernel (float64 on the device), the step counter, and
        the active rows; made once, again after ``freeze``."""
        if getattr(self, "_columns", None) is None or self._columns["active"] != self.active.tolist():
            h = self.hypers
            cols: dict[str, Any] = {"lr": self._column([x["lr"] for x in h]), "active": self.active.tolist()}
            cols["base_lr"] = cols["lr"].clone()
            if self.family == "sgd":
                cols["weight_decay"] = self._column([x.get("weight_decay", 0.0) for x in h])
                cols["momentum"] = self._column([x.get("momentum", 0.0) for x in h])
                # momentum 0: no buffer in torch.optim, so no dampening either
                cols["dampening"] = self._column([x.get("dampening", 0.0) if x.get("momentum", 0.0) else 0.0 for x in h])
            else:
                # the kernel decays by 1 - lr * wd: hand it wd = (lr * wd or wd) / lr for AdamW
                cols["l2_weight_decay"] = self._column([x.get("weight_decay", 0.0) if x["name"] == "adam" else 0.0 for x in h])
                cols["weight_decay"] = self._column(
                    [_decoupled(x) / x["lr"] if x["name"] == "adamw" and x["lr"] else 0.0 for x in h])
                cols["beta1"] = self._column([x.get("betas", (0.9, 0.999))[0] for x in h])
                cols["beta2"] = self._column([x.get("betas", (0.9, 0.999))[1] for x in h])
                cols["eps"] = self._column([x.get("eps", 1e-8) for x in h])
            if getattr(self, "_columns", None) is None:
                cols["step"] = torch.zeros((), dtype=torch.float32, device=self.device)
            else:
                cols["step"] = self._columns["step"]
            self._columns = cols
        return self._columns

    def _step_triton(self, params: list[Tensor], grads: list[Tensor]) -> None:
        from initopt.optim import _triton

        cols = self._triton_columns()
        launch = _triton.load()
        common = {"rows": self.k, "active": cols["active"]}
        if self.family == "sgd":
            launch.sgd_(params, grads, self.momentum_buffer, lr=cols["lr"], momentum=cols["momentum"],
                        dampening=cols["dampening"], weight_decay=cols["weight_decay"], nesterov=self.nesterov,
                        maximize=False, first_step=self.step_count == 1, **common)  # fmt: skip
            return
        cols["step"].add_(1.0)
        launch.adam_(params, grads, self.exp_avg, self.exp_avg_sq, self.max_exp_avg_sq if self.amsgrad else None,
                     [cols["step"]] * len(params), lr=cols["lr"], beta1=cols["beta1"], beta2=cols["beta2"],
                     weight_decay=cols["weight_decay"], l2_weight_decay=cols["l2_weight_decay"], eps=cols["eps"],
                     decoupled_weight_decay=True, amsgrad=self.amsgrad, maximize=False, **common)  # fmt: skip

    def _step_reference(self, params: list[Tensor], grads: list[Tensor]) -> None:
        t, step = self._tensors, self.step_count
        if self.multiplier is not None:  # a schedule: the lr and AdamW's decay (lr * wd, or wd) follow it
            t = dict(t, lr=t["lr"] * self.multiplier, decoupled=t.get("decoupled", t["lr"]) * self.multiplier)
        for i, (p, g) in enumerate(zip(params, grads)):
            view = lambda name: self._view(t[name], p)  # noqa: E731
            grad = l2_grad(torch.where(view("active"), g, torch.zeros_like(g)), p, view("l2"))
            if self.family == "sgd":
                # every configuration keeps a buffer; with momentum 0 it is the gradient, as no buffer is
                if step == 1:
                    self.momentum_buffer[i].copy_(sgd_momentum(None, grad, view("momentum"), view("dampening")))
                else:
                    sgd_momentum(self.momentum_buffer[i], grad, view("momentum"), view("dampening"))
                buf = self.momentum_buffer[i]
                direction = nesterov_direction(grad, buf, view("momentum")) if self.nesterov else buf
                sgd_update_(p, direction, view("lr"))
            else:
                decoupled_decay_(p, 1.0, view("decoupled"))  # the column already holds lr * wd
                adam_moments_(self.exp_avg[i], self.exp_avg_sq[i], grad, view("beta1"), view("beta2"))
                adam_update_(p, self.exp_avg[i], self.exp_avg_sq[i], lr=view("lr"), beta1=view("beta1"),
                             beta2=view("beta2"), eps=view("eps"), step=step,
                             max_exp_avg_sq=None if self.max_exp_avg_sq is None else self.max_exp_avg_sq[i])

    def _slab_list(self, params: list[Tensor]) -> list[tuple[slice, Any, list[Tensor], list[list[Tensor]], dict[str, Any]]]:
        """Runs of active configurations with equal hyperparameters, each with its fused kernel, the
        views of its parameter and state rows and the kernel's scalar arguments, made once (again
        after ``freeze``): ``(rows, kernel, parameter rows, state rows, arguments)``."""
        if self._slabs is None:
            runs: list[tuple[int, int]] = []
            active = self.active.tolist()
            start = None
            for k in range(self.k + 1):
                boundary = k == self.k or not active[k] or (start is not None and _slab_key(self.hypers[k]) != _slab_key(self.hypers[start]))
                if start is not None and boundary:
                    runs.append((start, k))
                    start = None
                if k < self.k and active[k] and start is None:
                    start = k
            # the fused Adam kernels read the step count (all active configurations are at the same step)
            self._step_tensor = torch.tensor(float(self.step_count - 1), device=self.device)
            self._slabs = [self._slab(a, b, params) for a, b in runs]
            self._slab_lrs = [args["lr"] for *_, args in self._slabs]
            if self.multiplier is not None:  # scheduled: each slab's lr a tensor the schedule writes every step
                for (rows, *_, args), base in zip(self._slabs, self._slab_lrs):
                    args["lr"] = torch.tensor(base, dtype=torch.float64, device=self.device) * self.multiplier[rows.start]
        return self._slabs

    def _slab(self, a: int, b: int, params: list[Tensor]) -> tuple[slice, Any, list[Tensor], list[list[Tensor]], dict[str, Any]]:
        h, ps = self.hypers[a], [p[a:b] for p in params]
        if self.family == "sgd":
            momentum = h.get("momentum", 0.0)
            states = [[] if momentum == 0 else [t[a:b] for t in self.momentum_buffer]]
            args = {"weight_decay": h.get("weight_decay", 0.0), "momentum": momentum, "lr": h["lr"],
                    "dampening": h.get("dampening", 0.0), "nesterov": self.nesterov, "maximize": False}
            return slice(a, b), torch._fused_sgd_, ps, states, args
        states = [[t[a:b] for t in state] for state in (self.exp_avg, self.exp_avg_sq, self.max_exp_avg_sq or [])]
        states.append([self._step_tensor] * len(ps))
        beta1, beta2 = h.get("betas", (0.9, 0.999))
        if h["name"] == "adamw":  # the kernel applies p * (1 - lr * wd): hand it wd = (lr * wd or wd) / lr
            kernel, weight_decay = torch._fused_adamw_, (_decoupled(h) / h["lr"] if h["lr"] else 0.0)
        else:
            kernel, weight_decay = torch._fused_adam_, h.get("weight_decay", 0.0)
        args = {"lr": h["lr"], "beta1": beta1, "beta2": beta2, "weight_decay": weight_decay,
                "eps": h.get("eps", 1e-8), "amsgrad": self.amsgrad, "maximize": False}
        return slice(a, b), kernel, ps, states, args

    def _step_fast(self, params: list[Tensor], grads: list[Tensor]) -> None:
        slabs = self._slab_list(params)
        if grads is not self.bound:
            slab_grads = [[g[rows] for g in grads] for rows, *_ in slabs]
        else:  # the bound gradients: their views are made once (again after freeze)
            if self._slab_grads is None:
                self._slab_grads = [[g[rows] for g in grads] for rows, *_ in slabs]
            slab_grads = self._slab_grads
        if self.family == "sgd":
            first = self.step_count == 1
            for (_, kernel, ps, states, args), gs in zip(slabs, slab_grads):
                kernel(ps, gs, *states, is_first_step=first, **args)
            return
        self._step_tensor.add_(1.0)  # torch.optim increments the step before calling the kernel
        for (_, kernel, ps, states, args), gs in zip(slabs, slab_grads):
            kernel(ps, gs, *states, **args)


def _scaled(hyper: dict[str, Any], lr_scale: float, wd_scale: float) -> dict[str, Any]:
    """A configuration's hyperparameters for a parameter with these multipliers (1, 1: unchanged)."""
    if lr_scale == 1.0 and wd_scale == 1.0:
        return dict(hyper)
    return dict(hyper, lr=hyper["lr"] * lr_scale, weight_decay=hyper.get("weight_decay", 0.0) * wd_scale)


def _decoupled(hyper: dict[str, Any]) -> float:
    """AdamW's per-step decay factor ``lr * wd`` (coupled) or ``wd`` (independent, at a constant lr)."""
    wd = hyper.get("weight_decay", 1e-2)
    return wd if hyper.get("decay", "coupled") == "independent" else hyper["lr"] * wd


def _schedule_column(hypers: Sequence[dict[str, Any]], total_steps: int | None, device: torch.device):
    """The configurations' schedules as one :class:`~initopt.optim.schedules.MultiplierColumn`, or None
    where every configuration keeps a constant lr (nothing is added to the step)."""
    from initopt.optim.schedules import MultiplierColumn, Schedule, schedule_of

    schedules = [schedule_of(h) for h in hypers]
    if all(s is None for s in schedules):
        return None
    if total_steps is None:
        raise ValueError("configurations with a learning-rate schedule need total_steps")

    return MultiplierColumn([s or Schedule() for s in schedules], total_steps, device)
