"""Param groups that exempt biases, normalization weights and (optionally) embeddings from decay.

Weight decay pulls weights towards zero to limit the norm of the function a layer computes. A
bias or a normalization layer's scale/shift does not multiply an input, so decaying it only
biases the layer towards zero output or unit-less scale (the convention of BERT, GPT-2/nanoGPT,
timm, ...). Embeddings are rows looked up one at a time; some recipes leave them undecayed so
that rare tokens are not shrunk on steps where they are absent (``embeddings_decay=False``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .optimizer import check_nonnegative

__all__ = ["NORM_LAYERS", "decayed_names", "param_groups"]

#: module types whose parameters are never decayed (matched with ``isinstance``)
NORM_LAYERS: tuple[type[nn.Module], ...] = tuple(
    getattr(nn, name)
    for name in (
        "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm",
        "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
        "LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm",
        "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    )
    if hasattr(nn, name)  # RMSNorm arrived in torch 2.4
)  # fmt: skip

_EMBEDDINGS: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)


def param_groups(
    model: nn.Module,
    weight_decay: float,
    no_decay: Sequence[str] = ("bias", "norm"),
    *,
    embeddings_decay: bool = True,
) -> list[dict[str, Any]]:
    """Split ``model``'s trainable parameters into a decayed and an undecayed param group.

    A parameter goes without decay when its module is a normalization layer
    (:data:`NORM_LAYERS`: BatchNorm*, LayerNorm, GroupNorm, InstanceNorm*, RMSNorm), when its
    qualified name (``"encoder.ln_1.weight"``) contains one of ``no_decay`` (case-insensitive;
    by default catches every ``bias`` and custom norms such as ``"rms_norm.scale"``), or when
    ``embeddings_decay=False`` and its module is an ``nn.Embedding`` / ``nn.EmbeddingBag``.

    Every trainable parameter appears exactly once (a tied parameter is classified where it
    first appears in ``model.named_parameters()`` order); parameters with
    ``requires_grad=False`` are skipped; an empty group is dropped.

    Returns:
        ``[{"params": [...], "weight_decay": weight_decay}, {"params": [...], "weight_decay": 0.0}]``
        -- pass it to any optimizer; other hyperparameters come from the optimizer's arguments.

    Example:
        >>> opt = AdamW(param_groups(model, weight_decay=0.1), lr=3e-4)  # doctest: +SKIP
    """
    check_nonnegative("weight_decay", weight_decay)
    patterns = tuple(s.lower() for s in no_decay)
    decay: list[torch.Tensor] = []
    keep: list[torch.Tensor] = []
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        exempt_module = isinstance(module, NORM_LAYERS) or (
            not embeddings_decay and isinstance(module, _EMBEDDINGS)
        )
        for name, p in module.named_parameters(recurse=False):
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            full_name = f"{module_name}.{name}" if module_name else name
            if exempt_module or any(s in full_name.lower() for s in patterns):
                keep.append(p)
            else:
                decay.append(p)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": keep, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def decayed_names(model: nn.Module, no_decay: Sequence[str] = ("bias", "norm"), *, embeddings_decay: bool = True) -> dict[str, bool]:
    """Each trainable parameter's qualified name -> whether :func:`param_groups` (same arguments) puts
    it in the decayed group; the study engines classify stacked parameters by it (one rule).
    A shared parameter is named where it first appears."""
    groups = param_groups(model, 1.0, no_decay, embeddings_decay=embeddings_decay)
    decayed = {id(p) for g in groups if g["weight_decay"] == 1.0 for p in g["params"]}
    return {name: id(p) in decayed for name, p in model.named_parameters() if p.requires_grad}

