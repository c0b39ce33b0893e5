"""``Scheme``: a frozen, callable initializer with a canonical name, parameters and spec.

Concrete schemes live in :mod:`initopt.init.schemes`; this module holds what they share: freezing,
equality, ``spec()``, the fans an explicit ``fan_in``/``fan_out`` overrides, and drawing on the
generator's device so that one seed gives the same weights on every device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from initopt.init.distributions import Distribution
from initopt.init.fans import compute_fans

__all__ = ["Scheme", "resolve_fans"]


def resolve_fans(shape: Sequence[int], fan_in: int | None, fan_out: int | None) -> tuple[int, int]:
    """The fans of ``shape`` (see :func:`compute_fans`), each replaced by its explicit value if given."""
    for field, value in (("fan_in", fan_in), ("fan_out", fan_out)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{field} must be a positive int; got {value!r}")
    if fan_in is not None and fan_out is not None:
        return fan_in, fan_out
    shape_fan_in, shape_fan_out = compute_fans(shape)
    return (shape_fan_in if fan_in is None else fan_in, shape_fan_out if fan_out is None else fan_out)


class Scheme:
    """A weight-initialization scheme: ``scheme(tensor)`` fills ``tensor`` in place and returns it.

    Attributes:
        name: the canonical name (aliases resolved), e.g. ``"he_normal"``.
        params: every parameter that changes the draw, defaults filled in (a fresh dict).
        source: the paper (or convention) the scheme comes from.

    Two schemes are equal when their names and params are equal; ``spec()`` is then equal too, and
    ``initopt.init.get(scheme.spec()) == scheme``.
    """

    __slots__ = ("_name", "_params")
    source: ClassVar[str] = ""
    #: True when the scheme reads fan_in/fan_out (variance scaling); others ignore the fans.
    uses_fans: ClassVar[bool] = False
    #: False for deterministic schemes (zeros, constant, identity, dirac): they ignore the generator.
    draws: ClassVar[bool] = True

    def __init__(self, name: str, params: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_params", dict(params))

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen; build a new scheme with initopt.init.get")

    @property
    def name(self) -> str:
        return self._name

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def spec(self) -> dict[str, Any]:
        """``{"name": name, **params}``: JSON-serialisable, canonical (all parameters, defaults included)."""
        return {"name": self._name, **self._params}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self._params.items())
        return f"{self._name}({args})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scheme):
            return NotImplemented
        return self._name == other._name and self._params == other._params

    def __hash__(self) -> int:
        return hash((self._name, tuple(sorted(self._params.items()))))

    def __reduce__(self) -> tuple[Any, ...]:
        # Frozen objects with __slots__ need help to pickle (multiprocessing studies send schemes).
        from initopt.init.registry import get

        return (get, (self.spec(),))

    # -- statistics ------------------------------------------------------------------------------
    def distribution(
        self, fan_in: int, fan_out: int | None = None, *, shape: Sequence[int] | None = None
    ) -> Distribution | None:
        """The law of one drawn weight for these fans (None where the fans do not determine it).

        ``shape`` matters only for schemes whose statistics depend on more than the fans
        (orthogonal, identity, dirac on conv weights); without it a 2-D ``(fan_out, fan_in)``
        weight is assumed.
        """
        raise NotImplementedError

    def std(self, fan_in: int, fan_out: int | None = None, *, shape: Sequence[int] | None = None) -> float | None:
        """Theoretical std of the drawn weights (exact, also for the truncated normal)."""
        law = self.distribution(fan_in, fan_out, shape=shape)
        return None if law is None else law.std

    def mean(self, fan_in: int, fan_out: int | None = None, *, shape: Sequence[int] | None = None) -> float | None:
        """Theoretical mean of the drawn weights."""
        law = self.distribution(fan_in, fan_out, shape=shape)
        return None if law is None else law.mean

    def gain(self) -> float | None:
        """The gain the std is scaled by, for schemes that have one (variance scaling, orthogonal)."""
        return None

    # -- drawing ---------------------------------------------------------------------------------
    def check_shape(self, shape: Sequence[int]) -> None:
        """Raise ``ValueError`` naming ``shape`` if this scheme cannot fill a tensor of that shape."""

    def __call__(
        self,
        tensor: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        fan_in: int | None = None,
        fan_out: int | None = None,
    ) -> torch.Tensor:
        """Fill ``tensor`` in place (under ``torch.no_grad()``) and return it.

        ``fan_in``/``fan_out`` override the fans computed from ``tensor``'s shape (a bias takes its
        layer's fans). With a ``generator`` on another device than ``tensor`` (a CPU generator for a
        CUDA weight), the draw happens on the generator's device and is copied over, so a seed gives
        the same weights everywhere.
        """
        self.check_shape(tuple(tensor.shape))
        if tensor.numel() == 0:
            return tensor
        if self.uses_fans:
            fan_in, fan_out = resolve_fans(tuple(tensor.shape), fan_in, fan_out)
        with torch.no_grad():
            if self.draws and generator is not None and generator.device.type != tensor.device.type:
                scratch = torch.empty(tensor.shape, dtype=tensor.dtype, device=generator.device)
                self._fill(scratch, fan_in, fan_out, generator)
                tensor.copy_(scratch)
            else:
                self._fill(tensor, fan_in, fan_out, generator)
        return tensor

    def _fill(
        self, tensor: torch.Tensor, fan_in: int | None, fan_out: int | None, generator: torch.Generator | None
    ) -> None:
        raise NotImplementedError
