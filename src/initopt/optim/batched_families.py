r"""Lion and Muon (with its AdamW for the other parameters) for K stacked configurations, each with its
own hyperparameters: the segments :class:`~initopt.optim.batched.BatchedOptimizer` builds for them.

Lion steps through its pure function with the hyperparameters as ``(K, 1, ...)`` float64 columns
(:func:`~initopt.optim.lion.lion_update_`). Muon steps each configuration alone, with
torch.optim.Muon's operations and its hyperparameters as numbers (and its AdamW parameters with
torch.optim.AdamW's): its Newton-Schulz iteration runs in bfloat16, where one float32 rounding of
difference in the momentum can move an element by 2^-8, so only the same operations give the
sequential engine's numbers; that is the CPU paths' (``fast``, ``reference``). On the ``triton`` path
(a GPU bundle) Muon steps every configuration's matrices at once, one batched Newton-Schulz of
``(K, A, B)`` products, equal to the sequential engine within 1e-4 rather than to the last bit (on
the CPU, where bfloat16 products are emulated, the batched form was no faster: 61-167 ms for a
K=16 set of the transformer's matrices either way). No fused kernel of torch's takes these
families. The learning rates stay tensors (a schedule's, computed on the device).

Adafactor and Schedule-Free AdamW step all K configurations at once through the pure functions
below, their hyperparameters ``(K,)`` float64 columns on the device, made once (again after
``freeze`` and ``load``), and their step count a device tensor: torch's per-parameter ``.item()``
calls become per-configuration reductions, so a step needs no host synchronization. Schedule-Free's
segment also has ``train()`` and ``eval()``, which put its rows of the bundle's parameters at the
gradient point y or the average x (``BatchedOptimizer.train()`` / ``eval()`` call them on every
segment that has them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from initopt.optim.adam import adam_moments_, adam_update_
from initopt.optim.decay import decoupled_decay_
from initopt.optim.lion import lion_update_
from initopt.optim.muon import muon_lr_ratio, muon_momentum_, muon_update_, newton_schulz
from initopt.optim.optimizer import axpy_, cast_like
from initopt.optim.schedule_free import EVAL_MODE_MESSAGE

FAMILIES = ("lion", "muon", "adafactor", "schedule_free_adamw")


def column_view(column: Tensor, like: Tensor) -> Tensor:
    """A ``(K,)`` column as ``(K, 1, ...)`` in ``like``'s dtype: one number per configuration, rounded
    once to the parameter's dtype, as torch.optim rounds a Python-float hyperparameter."""
    return cast_like(column, like).view(-1, *([1] * (like.dim() - 1)))


def norms(t: Tensor) -> Tensor:
    r"""Each configuration's :math:`\lVert t_k \rVert_2` of a stacked ``(K, ...)`` tensor, a float64
    ``(K,)`` column: torch's ``t.norm(2).item()`` per configuration, left on the device."""
    return t.reshape(t.shape[0], -1).norm(dim=1).double()


# ---------------------------------------------------------------------------------------------- Adafactor


def adafactor_update_batched_(p: Tensor, g: Tensor, row_var: Tensor | None, col_var: Tensor | None,
                              variance: Tensor | None, *, t: Tensor, lr: Tensor, beta2_decay: Tensor,
                              eps1: float | None, eps2: Tensor, d: Tensor, weight_decay: Tensor | None) -> None:
    r"""One Adafactor step of K stacked configurations ``p`` ``(K, *shape)`` in place, each with its own
    hyperparameters (``(K,)`` float64 columns; ``t`` the 1-based step, a float64 0-dim tensor):
    torch.optim.Adafactor's step (:func:`~initopt.optim.adafactor.adafactor_update_`) per configuration k,

    .. math::
        1-\hat\beta_{2,t} = t^{\tau_k}, \quad \rho_k = \min(\gamma_k, 1/\sqrt t), \quad
        \alpha_k = \max(\epsilon_{2,k}, \mathrm{RMS}(\theta_k))\,\rho_k, \quad
        \theta_k \leftarrow (1-\gamma_k\lambda_k)\,\theta_k - \frac{\alpha_k}{\max(1, \mathrm{RMS}(U_k)/d_k)} U_k

    with the second moment of each configuration's own parameter: factored over its last two dims
    where it has two or more (``row_var`` ``(K, ..., A, 1)``, ``col_var`` ``(K, ..., 1, B)``), else
    full (``variance``, ``(K, n)``). ``eps1`` None: the dtype's machine epsilon. ``weight_decay``
    None: no decay (torch skips the multiplication at 0)."""
    eps1 = torch.finfo(p.dtype).eps if eps1 is None else eps1
    n = p[0].numel()
    one_minus_beta2 = column_view(torch.pow(t, beta2_decay), p)
    rho = torch.minimum(lr, 1 / t.sqrt())
    alpha = torch.maximum(eps2, norms(p) / (n**0.5)) * rho
    if weight_decay is not None:
        p.mul_(column_view(1 - lr * weight_decay, p))
    if p.dim() > 2:
        row_var.lerp_(torch.norm(g, dim=-1, keepdim=True).square_().div_(g.size(-1)), one_minus_beta2)
        col_var.lerp_(torch.norm(g, dim=-2, keepdim=True).square_().div_(g.size(-2)), one_minus_beta2)
        estimate = (row_var @ col_var).div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
    else:
        variance.lerp_(g * g, one_minus_beta2)
        estimate = variance.clone()
    update = estimate.clamp_(min=eps1 * eps1).rsqrt_().mul_(g)
    clip = torch.clamp(norms(update) / ((n**0.5) * d), min=1.0)
    axpy_(p, update, column_view(-alpha / clip, p))


# ---------------------------------------------------------------------------------------------- Schedule-Free


def schedule_free_columns(k: Tensor, *, lr: Tensor, lr_max: Tensor, weight_sum: Tensor, warmup_steps: Tensor,
                          r: Tensor, weight_lr_power: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r""":func:`~initopt.optim.schedule_free.schedule_free_scalars` for K configurations: from the 0-based
    step ``k`` (a float64 0-dim tensor) and ``(K,)`` float64 columns, the columns
    ``(lr, lr_max, weight_sum, ckp1)`` of step :math:`t = k+1`:

    .. math::
        \gamma_t = \gamma\,\min(1, t/T_{warmup}), \quad
        \gamma^{max}_t = \max(\gamma^{max}_{t-1}, \gamma_t), \quad
        w_t = t^r\,(\gamma^{max}_t)^p, \quad
        c_{t+1} = w_t / \textstyle\sum_{i\le t} w_i \quad (0 \text{ while the sum is } 0)"""
    t = k + 1
    warmed = lr * torch.where(k < warmup_steps, t / warmup_steps, torch.ones_like(lr))
    lr_max = torch.maximum(warmed, lr_max)
    weight = torch.pow(t, r) * torch.pow(lr_max, weight_lr_power)
    weight_sum = weight_sum + weight
    ckp1 = torch.where(weight_sum != 0, weight / weight_sum, torch.zeros_like(weight))
    return warmed, lr_max, weight_sum, ckp1


def schedule_free_update_batched_(p: Tensor, g: Tensor, z: Tensor, exp_avg_sq: Tensor, *, lr: Tensor, beta1: Tensor,
                                  beta2: Tensor, eps: Tensor, weight_decay: Tensor | None, bias_correction2: Tensor,
                                  ckp1: Tensor) -> None:
    r"""One Schedule-Free AdamW step of K stacked configurations in place (``p`` holds y), each with its
    own ``(K,)`` float64 columns: the reference's single-tensor step
    (:func:`~initopt.optim.schedule_free.schedule_free_direction`, then
    :func:`~initopt.optim.schedule_free.schedule_free_update_`) per configuration,

    .. math::
        v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        d = \frac{g}{\sqrt{v/(1-\beta_2^t)} + \epsilon} + \lambda y, \quad
        y \leftarrow (1-c)\,y + c\,z + \gamma\big(\beta_1(1-c) - 1\big)\,d, \quad
        z \leftarrow z - \gamma d

    ``weight_decay`` None: none (the reference skips it at 0)."""
    exp_avg_sq.mul_(column_view(beta2, p)).addcmul_(g * column_view(1 - beta2, p), g)
    denom = exp_avg_sq.div(column_view(bias_correction2, p)).sqrt_().add_(column_view(eps, p))
    direction = g.div(denom)
    if weight_decay is not None:
        axpy_(direction, p, column_view(weight_decay, p))
    p.lerp_(z, column_view(ckp1, p))
    axpy_(p, direction, column_view(lr * (beta1 * (1 - ckp1) - 1), p))
    axpy_(z, direction, column_view(-lr, p))


def schedule_free_swap_(p: Tensor, z: Tensor, weight: Tensor) -> None:
    r"""``p <- lerp(p, z, weight)`` per configuration: :math:`x = (y - (1-\beta_1) z)/\beta_1` with
    ``weight`` :math:`1 - 1/\beta_1` (eval), :math:`y = \beta_1 x + (1-\beta_1) z` with :math:`1-\beta_1`
    (train); a weight of 0 leaves a configuration's rows as they are."""
    p.lerp_(z, column_view(weight, p))


def segment_state(segment: Any) -> dict[str, Any]:
    """A segment's family, step count, active configurations and its ``_STATE`` tensors (references):
    what ``BatchedOptimizer.state_dict`` keeps of every segment, of any family."""
    out: dict[str, Any] = {"family": segment.family, "step_count": segment.step_count, "active": segment.active.clone()}
    for name in segment._STATE:
        if getattr(segment, name, None) is not None:
            out[name] = getattr(segment, name)
    return out


def load_segment_state(segment: Any, saved: dict[str, Any]) -> None:
    """Copy ``saved`` (``segment_state``'s of a segment of the same family and shapes) into ``segment``:
    its step count and its ``_STATE`` tensors, in place (their addresses stay)."""
    if saved["family"] != segment.family:
        raise ValueError(f"state of a {saved['family']} segment for a {segment.family} one")
    segment.step_count = int(saved["step_count"])
    for name in segment._STATE:
        for mine, theirs in zip(getattr(segment, name, None) or [], saved.get(name) or []):
            if mine is not None:
                mine.copy_(theirs)


class ColumnSegment:
    """Configurations ``start:end`` of one of :data:`FAMILIES`; the interface of ``batched._Segment``."""

    def __init__(self, start: int, end: int, hypers: list[dict[str, Any]], params: Sequence[Tensor], path: str,
                 index: Sequence[int] | None = None, matrix: Sequence[bool] | None = None):
        self.start, self.end, self.hypers, self.path = start, end, hypers, path
        self.index = list(range(len(params))) if index is None else list(index)
        self.k = end - start
        self.family = hypers[0]["name"]
        self.step_count = 0
        self.active = torch.ones(self.k, dtype=torch.bool)
        self.multiplier: Tensor | None = None
        self.bound: list[Tensor] | None = None
        self.device = params[0].device
        self._init_state([p[start:end] for p in params], matrix)

    def _init_state(self, rows: list[Tensor], matrix: Sequence[bool] | None) -> None:
        """The family's state for ``rows`` (this segment's rows of each parameter)."""
        zeros = lambda: [torch.zeros_like(r) for r in rows]  # noqa: E731
        if self.family == "lion":
            self.exp_avg = zeros()
        else:
            if len({bool(h.get("nesterov", True)) for h in self.hypers}) > 1:
                raise ValueError("nesterov must be the same for every configuration of a bundle")
            self.matrix = [True] * len(rows) if matrix is None else [bool(m) for m in matrix]
            self.momentum_buffer = [torch.zeros_like(r) if m else None for r, m in zip(rows, self.matrix)]
            self.exp_avg = [None if m else torch.zeros_like(r) for r, m in zip(rows, self.matrix)]
            self.exp_avg_sq = [None if m else torch.zeros_like(r) for r, m in zip(rows, self.matrix)]

    def _column(self, key: str, default: Any = None) -> Tensor:
        """A hyperparameter of each configuration as a ``(k,)`` float64 column on the device, made once
        (a step then copies nothing from the host: a CUDA graph can hold it)."""
        columns = self.__dict__.setdefault("_columns", {})
        if (key, default) not in columns:
            columns[key, default] = torch.tensor([h.get(key, default) for h in self.hypers], dtype=torch.float64,
                                                 device=self.device)
        return columns[key, default]

    @staticmethod
    def _view(column: Tensor, like: Tensor) -> Tensor:
        return column.view(-1, *([1] * (like.dim() - 1)))

    def freeze(self, mask: Tensor) -> None:
        self.active &= ~mask.to(self.active.device, torch.bool)
        self.__dict__.pop("_active_lr", None)

    def bind(self, grads: list[Tensor] | None) -> None:
        self.bound = grads

    def scale_lr(self, multiplier: Tensor) -> None:
        self.multiplier = multiplier

    def _lr(self) -> Tensor:
        if "_active_lr" not in self.__dict__:  # frozen configurations step with lr 0
            self._active_lr = self._column("lr") * self.active.to(self.device)
        return self._active_lr if self.multiplier is None else self._active_lr * self.multiplier

    def _decay(self) -> Tensor:
        """The weight decay to pair with the scheduled lr: ``wd``, or ``wd / lr`` for decay independent of the lr."""
        columns = self.__dict__.setdefault("_columns", {})
        if "decay" not in columns:
            columns["decay"] = torch.tensor(
                [h.get("weight_decay", 0.0) / h["lr"] if h.get("decay", "coupled") == "independent" and h["lr"]
                 else h.get("weight_decay", 0.0) for h in self.hypers], dtype=torch.float64, device=self.device)
        return columns["decay"]

    @torch.no_grad()
    def step(self, params: list[Tensor], grads: list[Tensor]) -> None:
        self.step_count += 1
        lr, decay = self._lr(), self._decay()
        if self.family == "lion":
            beta1, beta2 = self._pair("betas", (0.9, 0.99))
            for p, g, m in zip(params, grads, self.exp_avg):
                lion_update_(p, g, m, lr=self._view(lr, p), beta1=self._view(beta1, p), beta2=self._view(beta2, p),
                             weight_decay=self._view(decay, p))
            return
        nesterov = bool(self.hypers[0].get("nesterov", True))
        for i, (p, g) in enumerate(zip(params, grads)):
            if self.matrix[i]:
                self._muon(p, g, self.momentum_buffer[i], lr, decay, nesterov)
            else:
                self._adamw(p, g, self.exp_avg[i], self.exp_avg_sq[i], lr, decay)

    def _pair(self, key: str, default: tuple[float, float]) -> tuple[Tensor, Tensor]:
        """A pair of hyperparameters (``betas``) as two columns."""
        columns = self.__dict__.setdefault("_columns", {})
        if (key, default) not in columns:
            pairs = [tuple(h.get(key, default)) for h in self.hypers]
            columns[key, default] = tuple(torch.tensor([pair[i] for pair in pairs], dtype=torch.float64, device=self.device)
                                          for i in (0, 1))
        return columns[key, default]

    def _muon(self, p: Tensor, g: Tensor, buffer: Tensor, lr: Tensor, decay: Tensor, nesterov: bool) -> None:
        if self.path == "triton":  # a GPU bundle: every configuration's matrix in one batched product per step
            self._muon_batched(p, g, buffer, lr, decay, nesterov)
            return
        for k, h in enumerate(self.hypers):  # each matrix alone, with torch.optim.Muon's operations and scalars
            direction = muon_momentum_(buffer[k], g[k], float(h.get("momentum", 0.95)), nesterov)
            orthogonal = newton_schulz(direction, tuple(h.get("ns_coefficients", (3.4445, -4.7750, 2.0315))),
                                       int(h.get("ns_steps", 5)), float(h.get("eps", 1e-7)))
            muon_update_(p[k], orthogonal, lr=lr[k], weight_decay=decay[k], adjust_lr_fn=h.get("adjust_lr_fn"))

    def _muon_batched(self, p: Tensor, g: Tensor, buffer: Tensor, lr: Tensor, decay: Tensor, nesterov: bool) -> None:
        """Muon on the stacked ``(K, A, B)`` matrices at once: the momentum with per-configuration columns,
        one Newton-Schulz iteration of batched products (the settings a study cannot vary: one per
        bundle), each configuration's lr times its ``adjust_lr_fn`` ratio."""
        h = self.hypers[0]
        direction = muon_momentum_(buffer, g, self._view(self._column("momentum", 0.95), g), nesterov)
        orthogonal = newton_schulz(direction, tuple(h.get("ns_coefficients", (3.4445, -4.7750, 2.0315))),
                                   int(h.get("ns_steps", 5)), float(h.get("eps", 1e-7)))
        columns = self.__dict__.setdefault("_columns", {})
        if ("ratio", p.shape) not in columns:
            columns["ratio", p.shape] = torch.tensor([muon_lr_ratio(x.get("adjust_lr_fn"), p.shape) for x in self.hypers],
                                                     dtype=torch.float64, device=self.device)
        decoupled_decay_(p, self._view(lr, p), self._view(decay, p))
        p.sub_(orthogonal.to(p.dtype) * self._view(lr * columns["ratio", p.shape], p).to(p.dtype))

    def _adamw(self, p: Tensor, g: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, lr: Tensor, decay: Tensor) -> None:
        for k, h in enumerate(self.hypers):  # torch.optim.AdamW's operations and scalars, configuration by configuration
            beta1, beta2 = (float(b) for b in h.get("adamw_betas", (0.9, 0.999)))
            decoupled_decay_(p[k], lr[k], decay[k])
            adam_moments_(exp_avg[k], exp_avg_sq[k], g[k], beta1, beta2)
            adam_update_(p[k], exp_avg[k], exp_avg_sq[k], lr=lr[k], beta1=beta1, beta2=beta2,
                         eps=float(h.get("adamw_eps", 1e-8)), step=self.step_count)

    _STATE = ("exp_avg", "exp_avg_sq", "momentum_buffer")

    def state(self) -> dict[str, Any]:
        return segment_state(self)

    def load(self, saved: dict[str, Any]) -> None:
        load_segment_state(self, saved)
        self.active = saved["active"].clone()
        self.__dict__.pop("_active_lr", None)


class _DeviceColumnSegment(ColumnSegment):
    """A segment whose step reads nothing from the host: its hyperparameters as ``(K,)`` float64 columns
    on the device (``cols``, made once, again after ``freeze`` and ``load``; a frozen configuration's lr
    is 0 there), its step count a device tensor (``t``, the steps taken), and a frozen configuration's
    gradient rows replaced by zeros, which keeps its parameters as they were when frozen."""

    COLUMNS: dict[str, float] = {}  # hyperparameter -> default

    def _init_state(self, rows: list[Tensor], matrix: Sequence[bool] | None) -> None:
        self.t = torch.zeros((), dtype=torch.float64, device=self.device)
        self._refresh()

    def _refresh(self) -> None:
        self.cols = {key: self._column(key, default) for key, default in self.COLUMNS.items()}
        self.active_column = self.active.to(self.device)
        self.cols["lr"] = self.cols["lr"] * self.active_column
        self.all_active = bool(self.active.all())
        self.decays = any(h.get("weight_decay", 0.0) != 0 for h in self.hypers)

    def freeze(self, mask: Tensor) -> None:
        super().freeze(mask)
        self._refresh()

    def load(self, saved: dict[str, Any]) -> None:
        super().load(saved)
        self.t.fill_(float(self.step_count))
        self._refresh()

    def _lr(self) -> Tensor:
        return self.cols["lr"] if self.multiplier is None else self.cols["lr"] * self.multiplier

    def _masked(self, g: Tensor) -> Tensor:
        if self.all_active:
            return g
        return torch.where(self._view(self.active_column, g), g, torch.zeros_like(g))


class AdafactorSegment(_DeviceColumnSegment):
    """Adafactor's configurations (:func:`adafactor_update_batched_`), eps1 the dtype's epsilon; the
    state keys are torch's (``row_var``, ``col_var`` for a matrix per configuration, ``variance`` for a
    vector)."""

    COLUMNS = {"lr": 1e-2, "beta2_decay": -0.8, "eps2": 1e-3, "d": 1.0, "weight_decay": 0.0}
    _STATE = ("row_var", "col_var", "variance")

    def _init_state(self, rows: list[Tensor], matrix: Sequence[bool] | None) -> None:
        factored = [r.dim() > 2 for r in rows]
        self.row_var = [r.new_zeros((*r.shape[:-1], 1)) if f else None for r, f in zip(rows, factored)]
        self.col_var = [r.new_zeros((*r.shape[:-2], 1, r.shape[-1])) if f else None for r, f in zip(rows, factored)]
        self.variance = [None if f else torch.zeros_like(r) for r, f in zip(rows, factored)]
        super()._init_state(rows, matrix)

    @torch.no_grad()
    def step(self, params: list[Tensor], grads: list[Tensor]) -> None:
        self.step_count += 1
        self.t.add_(1.0)
        lr, c = self._lr(), self.cols
        for p, g, row, col, full in zip(params, grads, self.row_var, self.col_var, self.variance):
            adafactor_update_batched_(p, self._masked(g), row, col, full, t=self.t, lr=lr, beta2_decay=c["beta2_decay"],
                                      eps1=None, eps2=c["eps2"], d=c["d"],
                                      weight_decay=c["weight_decay"] if self.decays else None)


class ScheduleFreeSegment(_DeviceColumnSegment):
    """Schedule-Free AdamW's configurations (:func:`schedule_free_update_batched_`), with the reference's
    state (``z``, ``exp_avg_sq``) and per-configuration ``lr_max``, ``weight_sum``. Like the reference it
    starts in eval mode and refuses to step there: :meth:`train` before the steps, :meth:`eval` before
    evaluating or saving. A schedule's multiplier scales its lr as a LambdaLR scales the reference's."""

    COLUMNS = {"lr": 0.0025, "eps": 1e-8, "weight_decay": 0.0, "warmup_steps": 0.0, "r": 0.0, "weight_lr_power": 2.0}
    _STATE = ("z", "exp_avg_sq")

    def _init_state(self, rows: list[Tensor], matrix: Sequence[bool] | None) -> None:
        self.rows = rows  # views of the bundle's parameters, which train() and eval() move between y and x
        self.z = [r.detach().clone() for r in rows]
        self.exp_avg_sq = [torch.zeros_like(r) for r in rows]
        self.train_mode = False
        super()._init_state(rows, matrix)
        self.lr_max = torch.full((self.k,), -1.0, dtype=torch.float64, device=self.device)
        self.weight_sum = torch.zeros(self.k, dtype=torch.float64, device=self.device)

    def _refresh(self) -> None:
        super()._refresh()
        self.cols["beta1"], self.cols["beta2"] = self._pair("betas", (0.9, 0.999))

    @torch.no_grad()
    def train(self) -> None:
        r"""Put each configuration's gradient point :math:`y = \beta_1 x + (1-\beta_1) z` in its rows."""
        if not self.train_mode:
            self._swap((1 - self.cols["beta1"]) * self.active_column)
            self.train_mode = True

    @torch.no_grad()
    def eval(self) -> None:
        r"""Put each configuration's average :math:`x = (y - (1-\beta_1) z)/\beta_1` in its rows."""
        if self.train_mode:
            self._swap((1 - 1 / self.cols["beta1"]) * self.active_column)
            self.train_mode = False

    def _swap(self, weight: Tensor) -> None:
        for p, z in zip(self.rows, self.z):
            schedule_free_swap_(p, z, weight)

    @torch.no_grad()
    def step(self, params: list[Tensor], grads: list[Tensor]) -> None:
        if not self.train_mode:
            raise RuntimeError(EVAL_MODE_MESSAGE)
        c = self.cols
        lr, lr_max, weight_sum, ckp1 = schedule_free_columns(
            self.t, lr=self._lr(), lr_max=self.lr_max, weight_sum=self.weight_sum, warmup_steps=c["warmup_steps"],
            r=c["r"], weight_lr_power=c["weight_lr_power"])
        self.lr_max.copy_(lr_max)
        self.weight_sum.copy_(weight_sum)
        ckp1 = ckp1 * self.active_column
        bias_correction2 = 1 - torch.pow(c["beta2"], self.t + 1)
        for p, g, z, v in zip(params, grads, self.z, self.exp_avg_sq):
            schedule_free_update_batched_(p, self._masked(g), z, v, lr=lr, beta1=c["beta1"], beta2=c["beta2"],
                                          eps=c["eps"], weight_decay=c["weight_decay"] if self.decays else None,
                                          bias_correction2=bias_correction2, ckp1=ckp1)
        self.step_count += 1
        self.t.add_(1.0)

    def state(self) -> dict[str, Any]:
        return {**super().state(), "lr_max": self.lr_max, "weight_sum": self.weight_sum, "train_mode": self.train_mode}

    def load(self, saved: dict[str, Any]) -> None:
        super().load(saved)
        self.lr_max.copy_(saved["lr_max"])
        self.weight_sum.copy_(saved["weight_sum"])
        self.train_mode = bool(saved["train_mode"])


#: The segment class of each family that has its own (the others: :class:`ColumnSegment`).
SEGMENT_CLASSES: dict[str, type[ColumnSegment]] = {"adafactor": AdafactorSegment,
                                                   "schedule_free_adamw": ScheduleFreeSegment}


def segment_class(family: str) -> type[ColumnSegment]:
    """The segment class of one of :data:`FAMILIES`."""
    return SEGMENT_CLASSES.get(family, ColumnSegment)
