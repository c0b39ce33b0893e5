r"""Lion and Muon (with its AdamW for the other parameters) for K stacked configurations, each with its
own hyperparameters: the segments :class:`~initopt.optim.batched.BatchedOptimizer` builds for them.

Lion steps through its pure function with the hyperparameters as ``(K, 1, ...)`` float64 columns
(:func:`~initopt.optim.lion.lion_update_`). Muon steps each configuration alone, with
torch.optim.Muon's operations and its hyperparameters as numbers (and its AdamW parameters with
torch.optim.AdamW's): its Newton-Schulz iteration runs in bfloat16, where one float32 rounding of
difference in the momentum can move an element by 2^-8, so only the same operations give the
sequential engine's numbers. Either way, whatever path the bundle asked for: no fused kernel of
torch's takes them. The learning rates stay tensors (a schedule's, computed on the device).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from initopt.optim.adam import adam_moments_, adam_update_
from initopt.optim.decay import decoupled_decay_
from initopt.optim.lion import lion_update_
from initopt.optim.muon import muon_momentum_, muon_update_, newton_schulz

FAMILIES = ("lion", "muon")


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
        rows = [p[start:end] for p in params]
        zeros = lambda: [torch.zeros_like(r) for r in rows]  # noqa: E731
        if self.family == "lion":
            self.exp_avg = zeros()
        else:
            if len({bool(h.get("nesterov", True)) for h in hypers}) > 1:
                raise ValueError("nesterov must be the same for every configuration of a bundle")
            self.matrix = [True] * len(rows) if matrix is None else [bool(m) for m in matrix]
            self.momentum_buffer = [torch.zeros_like(r) if m else None for r, m in zip(rows, self.matrix)]
            self.exp_avg = [None if m else torch.zeros_like(r) for r, m in zip(rows, self.matrix)]
            self.exp_avg_sq = [None if m else torch.zeros_like(r) for r, m in zip(rows, self.matrix)]

    def _column(self, key: str, default: Any = None) -> Tensor:
        return torch.tensor([h.get(key, default) for h in self.hypers], dtype=torch.float64, device=self.device)

    @staticmethod
    def _view(column: Tensor, like: Tensor) -> Tensor:
        return column.view(-1, *([1] * (like.dim() - 1)))

    def freeze(self, mask: Tensor) -> None:
        self.active &= ~mask.to(self.active.device, torch.bool)

    def bind(self, grads: list[Tensor]) -> None:
        self.bound = grads

    def scale_lr(self, multiplier: Tensor) -> None:
        self.multiplier = multiplier

    def _lr(self) -> Tensor:
        lr = self._column("lr") * self.active.to(self.device)
        return lr if self.multiplier is None else lr * self.multiplier

    def _decay(self) -> Tensor:
        """The weight decay to pair with the scheduled lr: ``wd``, or ``wd / lr`` for decay independent of the lr."""
        return torch.tensor([h.get("weight_decay", 0.0) / h["lr"] if h.get("decay", "coupled") == "independent" and h["lr"]
                             else h.get("weight_decay", 0.0) for h in self.hypers], dtype=torch.float64, device=self.device)

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
        pairs = [tuple(h.get(key, default)) for h in self.hypers]
        return tuple(torch.tensor([pair[i] for pair in pairs], dtype=torch.float64, device=self.device) for i in (0, 1))

    def _muon(self, p: Tensor, g: Tensor, buffer: Tensor, lr: Tensor, decay: Tensor, nesterov: bool) -> None:
        for k, h in enumerate(self.hypers):  # each matrix alone, with torch.optim.Muon's operations and scalars
            direction = muon_momentum_(buffer[k], g[k], float(h.get("momentum", 0.95)), nesterov)
            orthogonal = newton_schulz(direction, tuple(h.get("ns_coefficients", (3.4445, -4.7750, 2.0315))),
                                       int(h.get("ns_steps", 5)), float(h.get("eps", 1e-7)))
            muon_update_(p[k], orthogonal, lr=lr[k], weight_decay=decay[k], adjust_lr_fn=h.get("adjust_lr_fn"))

    def _adamw(self, p: Tensor, g: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, lr: Tensor, decay: Tensor) -> None:
        for k, h in enumerate(self.hypers):  # torch.optim.AdamW's operations and scalars, configuration by configuration
            beta1, beta2 = (float(b) for b in h.get("adamw_betas", (0.9, 0.999)))
            decoupled_decay_(p[k], lr[k], decay[k])
            adam_moments_(exp_avg[k], exp_avg_sq[k], g[k], beta1, beta2)
            adam_update_(p[k], exp_avg[k], exp_avg_sq[k], lr=lr[k], beta1=beta1, beta2=beta2,
                         eps=float(h.get("adamw_eps", 1e-8)), step=self.step_count)

    _STATE = ("exp_avg", "exp_avg_sq", "momentum_buffer")

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {"family": self.family, "step_count": self.step_count, "active": self.active.clone()}
        for name in self._STATE:
            if getattr(self, name, None) is not None:
                out[name] = getattr(self, name)
        return out

    def load(self, saved: dict[str, Any]) -> None:
        if saved["family"] != self.family:
            raise ValueError(f"state of a {saved['family']} segment for a {self.family} one")
        self.step_count = int(saved["step_count"])
        for name in self._STATE:
            for mine, theirs in zip(getattr(self, name, None) or [], saved.get(name) or []):
                if mine is not None:
                    mine.copy_(theirs)
        self.active = saved["active"].clone()
