"""LSUV, layer-sequential unit-variance initialization: the one scheme that needs a batch of data.

Mishkin & Matas, "All you need is a good init", ICLR 2016, Algorithm 1:

1. pre-initialize every convolution and fully connected layer with an orthonormal matrix
   (Saxe et al. 2014; ``orthogonal`` here);
2. for each such layer L in forward order, on one mini-batch: while ``|Var(B_L) - 1| >= tol`` and
   fewer than ``max_iter`` rescalings were made, ``W_L <- W_L / sqrt(Var(B_L))``, where ``B_L`` is
   the output of layer L (before its nonlinearity).

With zero biases one rescaling is exact (the output is linear in ``W_L``); biases, and layers whose
input changes with their own weights (a module used twice), need the loop. The paper uses
``tol = 0.1`` and ``max_iter = 10`` and reports 1-5 iterations per layer.

Two ways in:

- ``lsuv(model, batch)``: the function, on any model.
- the scheme ``"lsuv"`` (``get("lsuv", tol=0.05)``): ``initialize(model, "lsuv", data=train.x,
  seed=...)`` draws the orthogonal pre-initialization per tensor, then rescales on a batch of ``data``
  (``initialize`` without data refuses it). Studies pass their training inputs for every scheme; the
  others ignore them.

This module imports neither ``initopt.init.apply`` nor ``.registry`` (both import it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

from initopt.init._validate import check_number
from initopt.init.scheme import Scheme
from initopt.init.schemes import orthogonal

__all__ = [
    "LSUV_BATCH_SIZE",
    "LSUVLayer",
    "LSUVResult",
    "lsuv",
    "lsuv_scheme",
    "needs_batch",
]

#: Examples ``initialize(..., data=...)`` draws for LSUV: one mini-batch, as in the paper (which uses the
#: training batch size; 256 keeps the variance estimate within a few percent for any layer width).
LSUV_BATCH_SIZE = 256
_PAPER_TOL, _PAPER_MAX_ITER = 0.1, 10
#: The layers LSUV rescales: the paper's "convolution and fully connected" layers.
_LSUV_LAYERS: tuple[type, ...] = (nn.Linear, _ConvNd)
_SOURCE = "Mishkin & Matas, 'All you need is a good init', ICLR 2016"


class _Stop(Exception):
    """Raised by a forward hook to end a forward pass once the layer of interest has run."""


@dataclass(frozen=True)
class LSUVLayer:
    """What LSUV did to one layer.

    ``variance_before``/``variance_after``: the population variance of the layer's output on the
    batch before the first and after the last rescaling; ``scale``: the product of the factors the
    weight (not the bias) was multiplied by; ``iterations``: how many rescalings were made.
    ``converged`` is ``|variance_after - 1| < tol``; a layer whose output has zero or non-finite
    variance cannot be rescaled and is reported unconverged with 0 iterations.
    """

    name: str
    module_type: str
    iterations: int
    variance_before: float
    variance_after: float
    scale: float
    converged: bool


@dataclass
class LSUVResult:
    """Records of one ``lsuv`` call, one per rescaled layer in forward order.

    ``skipped`` names the Linear/Conv modules the forward pass never called (e.g. the ``out_proj`` of
    ``nn.MultiheadAttention``, whose weight the attention uses functionally): LSUV leaves them alone.
    """

    layers: list[LSUVLayer] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    tol: float = _PAPER_TOL
    max_iter: int = _PAPER_MAX_ITER

    @property
    def converged(self) -> bool:
        """True when every rescaled layer ended with its output variance within ``tol`` of 1."""
        return all(layer.converged for layer in self.layers)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [vars(layer).copy() for layer in self.layers]

    def __str__(self) -> str:
        lines = [f"LSUV (tol {self.tol:g}, max_iter {self.max_iter}): {len(self.layers)} layers"]
        for layer in self.layers:
            status = "ok" if layer.converged else "NOT converged"
            lines.append(
                f"  {layer.name or '(root)'} ({layer.module_type}): variance {layer.variance_before:.4g} ->"
                f" {layer.variance_after:.4g} in {layer.iterations} step(s), weight x{layer.scale:.4g} [{status}]"
            )
        lines += [f"  skipped {name}: never called in the forward pass" for name in self.skipped]
        return "\n".join(lines)


# -- the scheme ----------------------------------------------------------------------------------
_ORTHOGONAL = orthogonal()


class _LSUV(Scheme):
    """Per tensor: LSUV's orthogonal pre-initialization. The rescaling needs data: see ``needs_batch``."""

    __slots__ = ()
    source = _SOURCE
    #: Schemes with ``needs_batch`` are finished by ``initialize(..., data=...)`` on a training batch.
    needs_batch: ClassVar[bool] = True

    def check_shape(self, shape: Sequence[int]) -> None:
        _ORTHOGONAL.check_shape(shape)

    def distribution(self, fan_in, fan_out=None, *, shape=None):  # type: ignore[no-untyped-def]
        return None  # the final std depends on the data

    def _fill(self, tensor, fan_in, fan_out, generator):  # type: ignore[no-untyped-def]
        _ORTHOGONAL._fill(tensor, fan_in, fan_out, generator)


def _check_max_iter(max_iter: object) -> int:
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a whole number >= 1; got {max_iter!r}")
    return max_iter


def lsuv_scheme(tol: float = _PAPER_TOL, max_iter: int = _PAPER_MAX_ITER) -> Scheme:
    """The scheme ``"lsuv"``: orthogonal per tensor, then LSUV's rescaling on a batch (``tol``, ``max_iter``).

    Mishkin & Matas, ICLR 2016. ``initialize(model, scheme, data=...)`` draws the orthogonal
    pre-initialization and rescales on a batch of ``data``. ``std()`` is None: the final scale
    depends on the data.
    """
    params = {"tol": check_number("tol", tol, minimum=0.0, strictly_above=True), "max_iter": _check_max_iter(max_iter)}
    return _LSUV("lsuv", params)


def needs_batch(scheme: Scheme) -> bool:
    """True for schemes that need a batch of training data (``lsuv``): ``initialize`` takes it as ``data``."""
    return bool(getattr(scheme, "needs_batch", False))


# -- the algorithm -------------------------------------------------------------------------------
def _as_args(batch: torch.Tensor | Sequence[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, ...]:
    items = (batch,) if isinstance(batch, torch.Tensor) else tuple(batch)
    if not items or not all(isinstance(item, torch.Tensor) for item in items):
        raise ValueError("batch must be a tensor (or a tuple of tensors, the model's positional inputs)")
    return tuple(item.to(device) for item in items)


def _first_tensor(output: object) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, torch.Tensor):
                return item
    raise TypeError(f"expected a tensor output, got {type(output).__name__}")


def _population_variance(tensor: torch.Tensor) -> float:
    return float(tensor.detach().double().var(correction=0))


def _forward_order(model: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[list[tuple[str, nn.Module]], list[str]]:
    """The Linear/Conv modules in the order the forward pass first calls them; the never-called ones."""
    candidates = [(name, m) for name, m in model.named_modules() if isinstance(m, _LSUV_LAYERS)]
    order: list[tuple[str, nn.Module]] = []
    seen: set[int] = set()

    def record(name: str, module: nn.Module):  # type: ignore[no-untyped-def]
        def hook(*_: object) -> None:
            if id(module) not in seen:
                seen.add(id(module))
                order.append((name, module))

        return hook

    handles = [m.register_forward_hook(record(name, m)) for name, m in candidates]
    try:
        model(*args)
    finally:
        for handle in handles:
            handle.remove()
    return order, [name for name, m in candidates if id(m) not in seen]


def _output_variance(model: nn.Module, module: nn.Module, args: tuple[torch.Tensor, ...]) -> float:
    """Var of ``module``'s output at its first call in a forward pass of ``args`` (the pass stops there)."""
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: object, output: object) -> None:
        captured.append(_first_tensor(output))
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        model(*args)
    except _Stop:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError("the layer was not called in the forward pass")
    return _population_variance(captured[0])


def _rescale(
    model: nn.Module, name: str, module: nn.Module, args: tuple[torch.Tensor, ...], tol: float, max_iter: int
) -> LSUVLayer:
    variance = before = _output_variance(model, module, args)
    scale, iterations = 1.0, 0
    while abs(variance - 1.0) >= tol and iterations < max_iter and math.isfinite(variance) and variance > 0:
        factor = 1.0 / math.sqrt(variance)
        module.weight.mul_(factor)
        scale *= factor
        iterations += 1
        variance = _output_variance(model, module, args)
    converged = math.isfinite(variance) and abs(variance - 1.0) < tol
    return LSUVLayer(name, type(module).__name__, iterations, before, variance, scale, converged)


def lsuv(
    model: nn.Module,
    batch: torch.Tensor | Sequence[torch.Tensor],
    tol: float = _PAPER_TOL,
    max_iter: int = _PAPER_MAX_ITER,
    *,
    orthogonal_init: bool = True,
    seed: int | None = None,
) -> LSUVResult:
    """Layer-sequential unit-variance initialization of ``model``'s Linear and Conv layers, in place.

    Mishkin & Matas, "All you need is a good init", ICLR 2016. With ``orthogonal_init`` every
    Linear/Conv weight is first drawn orthogonal (gain 1; from a generator seeded with ``seed``, or
    the global RNG without it); biases and every other parameter are left as they are. Then, for
    each Linear/Conv layer in the order the forward pass calls it::

        while |Var(out_L) - 1| >= tol and rescalings < max_iter:
            W_L <- W_L / sqrt(Var(out_L))        # out_L: the layer's output on ``batch``

    ``Var`` is the population variance over every element of the output (batch, units and positions).
    The forward passes run in eval mode (dropout off; BatchNorm uses its running statistics and
    they are not updated) under ``torch.no_grad()``; each module's train/eval mode is restored.

    ``batch``: the model's input (or a tuple of positional inputs), on any device; a few hundred
    examples is plenty. Returns an :class:`LSUVResult` (per layer: variance before/after,
    rescalings, total scale, converged). Layers that never run (``MultiheadAttention.out_proj``)
    are listed in ``result.skipped``; attention's ``in_proj_weight`` is not a Linear and is left as is.

    Example::

        result = initopt.init.lsuv(model, train.x[:256])
        assert result.converged
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"lsuv needs an nn.Module; got {type(model).__name__}")
    tol = check_number("tol", tol, minimum=0.0, strictly_above=True)
    max_iter = _check_max_iter(max_iter)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an int or None; got {seed!r}")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    args = _as_args(batch, device)

    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            if orthogonal_init:
                generator = None if seed is None else torch.Generator().manual_seed(seed)
                for module in model.modules():
                    if isinstance(module, _LSUV_LAYERS):
                        _ORTHOGONAL(module.weight, generator=generator)
            order, skipped = _forward_order(model, args)
            layers = [_rescale(model, name, module, args, tol, max_iter) for name, module in order]
    finally:
        for module, training in modes:
            module.training = training
    return LSUVResult(layers, skipped, tol, max_iter)


# -- the study path ------------------------------------------------------------------------------
def batch_of(data: torch.Tensor, batch_size: int, seed: int | None) -> torch.Tensor:
    """``batch_size`` rows of ``data`` drawn without replacement (from ``seed``, else the global RNG)."""
    if not isinstance(data, torch.Tensor) or data.dim() == 0 or len(data) == 0:
        raise ValueError(f"data must be a non-empty tensor of examples; got {type(data).__name__}")
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    index = torch.randperm(len(data), generator=generator)[:batch_size]
    return data[index]
