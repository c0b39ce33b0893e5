r"""Parametrizations: how each layer's init and learning rate scale with the model's width.

``sp`` (the standard parametrization) is what an init scheme plus one learning rate is: it changes
nothing. ``mup`` is the maximal update parametrization (Yang et al. 2022, "Tensor Programs V",
arXiv:2203.03466, Table 3), under which the best learning rate stays put as the model gets wider.
With the width multiplier :math:`m = \text{width} / \text{base\_width}` (muP equals SP at the base
width) and the output multiplier :math:`\alpha` (a constant tuned at the base width, default 1),
relative to the SP init the model already has:

=================================  ====================  ===================  ===================
role                               init std              Adam-like lr         SGD lr
=================================  ====================  ===================  ===================
input weights (embeddings, or      x 1                   x 1                  x m
the first layer)
hidden weights                     x 1                   x 1/m                x 1
output weights (the head)          x alpha/sqrt(m)       x alpha/m            x alpha^2/m
biases and norm scales/shifts      x 1                   x 1                  x m
the head's bias                    x 1                   x 1                  x 1
=================================  ====================  ===================  ===================

Attention logits are scaled by :math:`1/\sqrt{m\,d_{head}}` (:math:`\propto 1/d_{head}`, TP5 sec. 4; equal to
SP's :math:`1/\sqrt{d_{head}}` at the base width) in modules that expose an ``attention_scale``
attribute (the built-in transformer's attention does); other attention modules (``nn.MultiheadAttention``)
keep :math:`1/\sqrt{d_{head}}`, with a warning.

Weight decay: ``decay="independent"`` (the default; microsoft/mup's rule, and Wortsman et al. 2023's
independent decay) divides each group's weight decay by its lr multiplier, so the decay per step
(:math:`\text{lr}\cdot\text{wd}` for AdamW) is the base width's at every width; ``decay="coupled"``
leaves it, so the decay shrinks with the lr (Kosson et al. 2025 discuss why that breaks transfer).

Differences from microsoft/mup: it divides the head's input by m in the forward (``MuReadout``) and
keeps the head's Adam lr; here that multiplier (and alpha) is folded into the head's weights and lr
(TP5's Table 3 form), the same training up to Adam's epsilon, and no layer's forward changes, so any
model (and a study's bundled layers) takes it. All width dimensions are assumed to grow together by m
(a transformer's d_model, its MLP's 4 d_model and its heads' width do).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from initopt.init.apply import parameter_roles
from initopt.init.roles import Role

__all__ = ["PARAMETRIZATIONS", "ParamRule", "param_groups", "parametrize", "rules", "with_lr"]

PARAMETRIZATIONS = ("sp", "mup")
SGD_LIKE = ("sgd",)
ADAM_LIKE = ("adam", "adamw", "lion", "schedule_free_adamw")
#: The attribute a model carries once parametrized (a second call would scale its weights again).
MARK = "initopt_parametrization"


@dataclass(frozen=True)
class ParamRule:
    """One parameter's role under a parametrization and its multipliers (relative to SP)."""

    name: str
    role: str  # input | hidden | output | vector | output_bias
    init_scale: float
    lr_scale: float
    weight_decay_scale: float


def rules(model: nn.Module, parametrization: str = "mup", *, base_width: int, width: int | None = None,
          optimizer: str = "adamw", decay: str = "independent", output_multiplier: float = 1.0,
          scheme=None) -> list[ParamRule]:
    """Each trainable parameter's :class:`ParamRule` (a pure function of the model's layout and shapes,
    and of the SP ``scheme`` it was initialized with, where given)."""
    return _plan(model, parametrization, base_width, width, optimizer, decay, output_multiplier, scheme)[0]


def _plan(model, parametrization, base_width, width, optimizer, decay, output_multiplier,
          scheme) -> tuple[list[ParamRule], float]:
    """:func:`rules`, and the width multiplier ``m`` they were made with."""
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(f"parametrization must be one of {', '.join(PARAMETRIZATIONS)}, got {parametrization!r}")
    if optimizer not in SGD_LIKE + ADAM_LIKE:
        raise ValueError(f"optimizer: muP's learning-rate rules are written for {', '.join(SGD_LIKE + ADAM_LIKE)}, "
                         f"got {optimizer!r}")
    if decay not in ("independent", "coupled"):
        raise ValueError(f"decay must be 'independent' or 'coupled', got {decay!r}")
    if not (isinstance(base_width, int) and base_width >= 1):
        raise ValueError(f"base_width must be a whole number >= 1, got {base_width!r}")
    if not output_multiplier > 0:
        raise ValueError(f"output_multiplier must be > 0, got {output_multiplier!r}")
    roles = _mup_roles(model)
    width = width if width is not None else _inferred_width(model, roles)
    m = width / base_width if parametrization == "mup" else 1.0
    alpha = output_multiplier if parametrization == "mup" else 1.0
    sgd = optimizer in SGD_LIKE
    table = {  # role -> (init std, lr) multipliers
        "input": (1.0, m if sgd else 1.0),
        "hidden": (1.0, 1.0 if sgd else 1 / m),
        "output": (alpha / math.sqrt(m), alpha**2 / m if sgd else alpha / m),
        "vector": (1.0, m if sgd else 1.0),
        "output_bias": (1.0, 1.0),
    }
    params = dict(model.named_parameters())
    out = []
    for name, role in roles.items():
        init_scale, lr_scale = table[role]
        if role == "input" and scheme is not None and m != 1.0:
            init_scale = _base_width_std(scheme, model, name, params[name], m)
        wd_scale = 1 / lr_scale if decay == "independent" else 1.0
        out.append(ParamRule(name, role, init_scale, lr_scale, wd_scale))
    return out, m


def parametrize(model: nn.Module, parametrization: str = "mup", *, base_width: int, width: int | None = None,
                optimizer: str = "adamw", decay: str = "independent", output_multiplier: float = 1.0,
                scheme=None) -> list[dict]:
    """Apply ``parametrization`` to an initialized ``model`` and return its param groups.

    Scales the weights in place (the init column of the module docstring's table: initialize with
    your SP scheme first), sets the attention scale, and returns one group per set of multipliers:
    ``{"params", "lr_scale", "weight_decay_scale", "role", "names"}``. ``initopt.optim``'s optimizers
    read ``lr_scale`` and ``weight_decay_scale`` (a group's lr is the optimizer's lr times its scale);
    for ``torch.optim`` use :func:`with_lr`. ``width``: the model's width (default: the width the
    input layer produces: the embedding's dimension or the first layer's outputs). ``scheme``: the
    SP scheme the model was initialized with; given, input weights whose std it ties to the width (an
    embedding under a fan-based scheme: ``1/sqrt(dim)``; xavier's fan_out) get their base width's std,
    width-independent as muP's input weights are.

        initialize(model, "he_normal", seed=0)
        groups = parametrize(model, "mup", base_width=64, scheme="he_normal")
        opt = initopt.optim.AdamW(groups, lr=1e-3, weight_decay=0.1)
    """
    if getattr(model, MARK, None) is not None:
        raise ValueError(f"the model is already parametrized ({getattr(model, MARK)}): parametrize a freshly "
                         "initialized model once (its weights were scaled)")
    plan, m = _plan(model, parametrization, base_width, width, optimizer, decay, output_multiplier, scheme)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for rule in plan:
            if rule.init_scale != 1.0:
                params[rule.name].mul_(rule.init_scale)
    if parametrization == "mup":
        _scale_attention(model, m)
    setattr(model, MARK, f"{parametrization}, base_width={base_width}")
    return param_groups(model, plan)


def param_groups(model: nn.Module, plan: list[ParamRule]) -> list[dict]:
    """``model``'s parameters in one group per role and multipliers of ``plan``:
    ``{"params", "lr_scale", "weight_decay_scale", "role", "names"}``."""
    params = dict(model.named_parameters())
    groups: dict[tuple, dict] = {}
    for rule in plan:
        key = (rule.lr_scale, rule.weight_decay_scale, rule.role)
        group = groups.setdefault(key, {"params": [], "lr_scale": rule.lr_scale,
                                        "weight_decay_scale": rule.weight_decay_scale, "role": rule.role, "names": []})
        group["params"].append(params[rule.name])
        group["names"].append(rule.name)
    return list(groups.values())


def with_lr(groups: list[dict], lr: float, weight_decay: float = 0.0) -> list[dict]:
    """``groups`` with an absolute ``lr`` and ``weight_decay`` each (their scales applied): for
    ``torch.optim``, which does not read ``lr_scale``."""
    return [{**g, "lr": lr * g.get("lr_scale", 1.0), "weight_decay": weight_decay * g.get("weight_decay_scale", 1.0)}
            for g in groups]


def _mup_roles(model: nn.Module) -> dict[str, str]:
    """Each trainable parameter -> input | hidden | output | vector | output_bias."""
    roles = parameter_roles(model)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    named = [(n, r) for n, r in roles.items() if n in trainable]
    heads = {n for n, r in named if r is Role.HEAD}
    head_modules = {n.rpartition(".")[0] for n in heads}
    embeddings = [n for n, r in named if r is Role.EMBEDDING]
    weights = [n for n, r in named if r in (Role.WEIGHT, Role.RESIDUAL)]
    inputs = set(embeddings) if embeddings else set(weights[:1])
    out = {}
    for name, role in named:
        if name in heads:
            out[name] = "output"
        elif name in inputs:
            out[name] = "input"
        elif role.is_weight:
            out[name] = "hidden"
        elif name.rpartition(".")[0] in head_modules:
            out[name] = "output_bias"
        else:
            out[name] = "vector"
    return out


def _inferred_width(model: nn.Module, roles: dict[str, str]) -> int:
    params = dict(model.named_parameters())
    first = next((n for n, r in roles.items() if r == "input"), None)
    if first is None:
        raise ValueError("cannot tell the model's width (no input layer found): pass width=")
    owner = model.get_submodule(first.rpartition(".")[0])
    weight = params[first]  # an embedding (num, dim) makes dim; a Linear (out, in) or a Conv (out, in, ...) out
    return int(weight.shape[-1] if isinstance(owner, nn.Embedding) else weight.shape[0])


def _base_width_std(scheme, model: nn.Module, name: str, weight: torch.Tensor, m: float) -> float:
    """How much ``scheme`` would scale an input weight's std at the base width relative to now (1 where
    its law does not follow from the fans, as a model-wide scheme's)."""
    from initopt.init.fans import compute_fans
    from initopt.init.registry import get
    from initopt.init.roles import embedding_fans

    try:
        resolved = get(scheme)
    except ValueError:
        return 1.0
    law = getattr(resolved, "distribution", None)
    if law is None:
        return 1.0
    owner = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    if isinstance(owner, nn.Embedding):
        fan_in, fan_out = embedding_fans(weight)
        base = (max(1, round(fan_in / m)), max(1, round(fan_out / m)))
    else:
        fan_in, fan_out = compute_fans(weight)
        base = (fan_in, max(1, round(fan_out / m)))  # the input layer's outputs are the width
    now, then = law(fan_in, fan_out), law(*base)
    if now is None or then is None or not now.std:
        return 1.0
    return then.std / now.std


def _scale_attention(model: nn.Module, m: float) -> None:
    """Attention logits ``1/sqrt(d_head)`` -> ``1/sqrt(m d_head)`` where a module exposes ``attention_scale``."""
    for name, module in model.named_modules():
        if hasattr(module, "attention_scale") and hasattr(module, "head_dim"):
            module.attention_scale = 1.0 / math.sqrt(m * module.head_dim)
        elif isinstance(module, nn.MultiheadAttention):
            warnings.warn(f"{name}: nn.MultiheadAttention keeps its 1/sqrt(d_head) attention scale under muP "
                          "(its forward has no scale to set)", stacklevel=3)
