"""Model-wide schemes: one name that draws each parameter by its role (weight, embedding, residual, head).

A :class:`ModelScheme` is a :class:`~initopt.init.scheme.Scheme` (so ``get``, ``spec()``, studies
and pickling treat it like any other), whose ``for_role`` returns the per-tensor scheme for a role
(:class:`~initopt.init.roles.Role`). ``initialize(model, "gpt2")`` asks it once per parameter;
called on a bare tensor it draws its rule for plain weights.
"""

from __future__ import annotations

import math

from initopt.init._validate import check_choice, check_number
from initopt.init.distributions import Distribution, Kind
from initopt.init.roles import Role
from initopt.init.scheme import Scheme
from initopt.init.schemes import constant, lecun_normal, normal, zeros

__all__ = ["EMBEDDING_RULES", "GPT2_STD", "HEAD_RULES", "ModelScheme", "gpt2", "residual_std"]

#: GPT-2's std for every weight (Radford et al. 2019; ``initializer_range`` in Hugging Face's config).
GPT2_STD = 0.02
#: gpt2's ``embedding`` choices: ``normal``: N(0, std^2) as GPT-2; ``lecun_normal``: N(0, 1/dim).
EMBEDDING_RULES: tuple[str, ...] = ("normal", "lecun_normal")
#: gpt2's ``head`` choices: ``normal``: N(0, std^2) (GPT-2's head is the tied token embedding);
#: ``zeros``: the zero readout of Yang et al. 2021 (muP), every output starts at 0.
HEAD_RULES: tuple[str, ...] = ("normal", "zeros")
_RADFORD_2019 = (
    "Radford, Wu, Child, Luan, Amodei & Sutskever, 'Language Models are Unsupervised Multitask Learners'"
    " (GPT-2), 2019, sec. 2.3; as in nanoGPT's and Hugging Face's GPT2 _init_weights"
)


def residual_std(std: float, n_residual: int) -> float:
    """``std / sqrt(N)``: GPT-2's residual projections, N the number of residual layers.

    Radford et al. 2019, sec. 2.3: "we scale the weights of residual layers at initialization by a
    factor of 1/sqrt(N) where N is the number of residual layers". Each block adds two branches to
    the residual stream (attention and MLP), so N = 2 * n_layer (nanoGPT, Hugging Face): the
    variance the branches add to the stream then stays ``std^2``-sized whatever the depth.
    """
    if n_residual < 1:
        raise ValueError(f"the number of residual layers must be >= 1; got {n_residual!r}")
    return std / math.sqrt(n_residual)


class ModelScheme(Scheme):
    """A scheme that draws each parameter by its role; ``for_role`` gives the per-tensor scheme."""

    __slots__ = ()

    def for_role(self, role: Role, n_residual: int) -> Scheme:
        """The per-tensor scheme for a parameter of ``role``; ``n_residual``: the model's residual projections."""
        raise NotImplementedError

    def distribution(self, fan_in, fan_out=None, *, shape=None):  # type: ignore[no-untyped-def]
        return self.for_role(Role.WEIGHT, 1).distribution(fan_in, fan_out, shape=shape)

    def _fill(self, tensor, fan_in, fan_out, generator):  # type: ignore[no-untyped-def]
        self.for_role(Role.WEIGHT, 1)._fill(tensor, fan_in, fan_out, generator)


class _GPT2(ModelScheme):
    __slots__ = ()
    source = _RADFORD_2019

    def for_role(self, role: Role, n_residual: int) -> Scheme:
        std = self._params["std"]
        if role is Role.RESIDUAL:
            return normal(0.0, residual_std(std, n_residual))
        if role is Role.EMBEDDING and self._params["embedding"] == "lecun_normal":
            return lecun_normal()  # with the embedding fans (dim, dim): std 1 / sqrt(dim)
        if role is Role.HEAD and self._params["head"] == "zeros":
            return zeros()
        if role is Role.NORM_WEIGHT:
            return constant(1.0)
        if role in (Role.BIAS, Role.NORM_BIAS):
            return zeros()
        return normal(0.0, std)

    def distribution(self, fan_in, fan_out=None, *, shape=None):  # type: ignore[no-untyped-def]
        return Distribution(Kind.NORMAL, mean=0.0, std=self._params["std"])


def gpt2(std: float = GPT2_STD, embedding: str = "normal", head: str = "normal") -> Scheme:
    """GPT-2's initialization of a whole model, by role (``initialize(model, "gpt2")``).

    ======================================  ==============================================
    Linear/Conv weights                     ``N(0, std^2)``, std = 0.02
    residual projections (attention proj,   ``N(0, (std / sqrt(N))^2)``, N = the number of
    the MLP's second Linear)                residual projections (2 per block)
    embeddings (token and position)         ``N(0, std^2)``; ``embedding="lecun_normal"``:
                                            ``N(0, 1 / dim)``
    output head (the last Linear)           ``N(0, std^2)``; ``head="zeros"``: 0
    biases                                  ``initialize``'s ``bias`` (zeros by default)
    norm layers                             weight 1, bias 0
    ======================================  ==============================================

    Radford et al. 2019 (GPT-2), sec. 2.3, and the ``_init_weights`` of nanoGPT and Hugging Face's
    GPT2 (N = 2 * n_layer). The released TensorFlow GPT-2 draws the position table with std 0.01;
    nanoGPT and Hugging Face use 0.02 for both tables, as here. ``lecun_normal`` for embeddings is
    Flax's ``nn.Embed`` default (unit-norm rows on average); ``head="zeros"`` is muP's zero readout
    (Yang et al., "Tensor Programs V", 2021). Per tensor (``scheme(w)``) it draws ``N(0, std^2)``.
    """
    return _GPT2(
        "gpt2",
        {
            "std": check_number("std", std, minimum=0.0, strictly_above=True),
            "embedding": check_choice("embedding", embedding, EMBEDDING_RULES),
            "head": check_choice("head", head, HEAD_RULES),
        },
    )
