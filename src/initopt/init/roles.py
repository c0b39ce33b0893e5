"""The role a parameter plays in its model, which decides its default scheme and its fans.

``initialize`` gives every parameter one :class:`Role`:

============  ==================================================================================
weight        a Linear/Conv weight (and any other >= 2-D parameter): ``weights`` with its fans
head          the last Linear/Conv layer's weight (the output head): ``weights``, unless a
              model-wide scheme (``gpt2``) or the ``"@last"`` rule says otherwise
residual      the weight of a residual branch's output projection (attention's ``proj``, the
              MLP's second Linear): ``weights``; ``gpt2`` scales it by ``1/sqrt(N)``
embedding     an Embedding table ``(num, dim)`` with ``dim > 1``: ``weights`` with fans (dim, dim)
bias          a bias, and an Embedding table of width 1 (a learned scalar per index, e.g. the user
              and item biases of matrix factorization): ``bias``
norm_weight   a norm layer's scale (BatchNorm, LayerNorm, ...): 1
norm_bias     a norm layer's shift: 0
============  ==================================================================================

**Residual projections** are the modules :func:`mark_residual` marked (the built-in transformer
marks its two per block) and, for nanoGPT and Hugging Face GPT-2 models, modules named ``c_proj``.
Radford et al. 2019 (GPT-2, sec. 2.3) scale them by ``1/sqrt(N)``, N the number of residual layers:
two per block (nanoGPT: ``0.02 / sqrt(2 * n_layer)``), because each block adds two branches to the
residual stream and the variance of the stream grows with their number.

**Embedding fans.** torch reads an Embedding's weight ``(num, dim)`` as ``fan_in = dim``,
``fan_out = num``. But a lookup sums nothing: each output coordinate is one table entry, and the
number of rows is the size of a vocabulary, not a fan. Schemes that read fans therefore get
``fan_in = fan_out = dim``: every variance-scaling scheme gives ``O(1/sqrt(dim))`` (``lecun_*``
and ``xavier_*`` exactly ``1/sqrt(dim)``, Flax's ``nn.Embed`` default), whatever the vocabulary
size, so the token and position embeddings that a transformer adds start on the same scale.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["RESIDUAL_ATTRIBUTE", "RESIDUAL_NAMES", "Role", "embedding_fans", "is_residual_projection", "mark_residual"]

#: The attribute :func:`mark_residual` sets on a module.
RESIDUAL_ATTRIBUTE = "initopt_residual_projection"
#: Module names (the last part of the qualified name) read as residual projections without a mark:
#: nanoGPT's and Hugging Face GPT-2's ``attn.c_proj`` and ``mlp.c_proj``, where GPT-2's rule is applied.
RESIDUAL_NAMES: tuple[str, ...] = ("c_proj",)


class Role(str, enum.Enum):
    """What a parameter is to its model (see the module docstring for the defaults)."""

    WEIGHT = "weight"
    HEAD = "head"
    RESIDUAL = "residual"
    EMBEDDING = "embedding"
    BIAS = "bias"
    NORM_WEIGHT = "norm_weight"
    NORM_BIAS = "norm_bias"

    @property
    def is_weight(self) -> bool:
        """The roles a scheme for weights fills (the others are biases and norm scales/shifts)."""
        return self in (Role.WEIGHT, Role.HEAD, Role.RESIDUAL, Role.EMBEDDING)


def mark_residual(module: nn.Module) -> nn.Module:
    """Mark ``module`` as the output projection of a residual branch and return it.

    ``initialize`` then gives its weight the role ``residual``: the ``"@residual"`` rule selects it
    and ``gpt2`` draws it with ``std / sqrt(N)``, N the number of residual projections in the model.
    """
    setattr(module, RESIDUAL_ATTRIBUTE, True)
    return module


def is_residual_projection(name: str, module: nn.Module) -> bool:
    """True for a module :func:`mark_residual` marked, or one named ``c_proj`` (nanoGPT, HF GPT-2)."""
    return bool(getattr(module, RESIDUAL_ATTRIBUTE, False)) or name.rpartition(".")[2] in RESIDUAL_NAMES


def residual_projections(modules: Iterable[tuple[str, nn.Module]]) -> list[nn.Module]:
    """The residual projections among ``named_modules()`` that own parameters (each module once)."""
    found: dict[int, nn.Module] = {}
    for name, module in modules:
        if is_residual_projection(name, module) and any(True for _ in module.parameters(recurse=False)):
            found.setdefault(id(module), module)
    return list(found.values())


def embedding_fans(table: torch.Tensor) -> tuple[int, int]:
    """``(dim, dim)`` for an embedding table ``(num, dim)``: the vocabulary size is not a fan."""
    dim = table.shape[-1]
    return dim, dim
