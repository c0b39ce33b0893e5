"""``initialize(model, ...)``: apply weight and bias schemes to every layer of a model.

Two passes: first a plan (which role, scheme and fans for every parameter; all validation happens
here, so a bad rule or a scheme that does not fit a shape fails before any weight changes), then
the draws, in ``named_modules()`` order and, within a module, in parameter registration order.
Each parameter's role (:mod:`initopt.init.roles`) picks its default and its fans; a model-wide
scheme (``gpt2``) turns into the per-tensor scheme for that role.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd
from torch.nn.parameter import UninitializedParameter

from initopt.init.fans import compute_fans
from initopt.init.lsuv import LSUV_BATCH_SIZE, batch_of, lsuv, needs_batch
from initopt.init.model_schemes import ModelScheme
from initopt.init.registry import SchemeLike, get
from initopt.init.roles import Role, embedding_fans, residual_projections
from initopt.init.scheme import Scheme
from initopt.init.schemes import constant, zeros
from initopt.init.summary import InitRecord, InitSummary, SkippedParam

__all__ = ["LAST_LAYER", "RESIDUAL_LAYERS", "RuleKey", "initialize", "parameter_roles"]

#: Rules key naming the last Linear/Conv layer in ``named_modules()`` order (the output head).
LAST_LAYER = "@last"
#: Rules key naming the residual projections (``initopt.init.roles.is_residual_projection``).
RESIDUAL_LAYERS = "@residual"
_SPECIAL_KEYS = (LAST_LAYER, RESIDUAL_LAYERS)
RuleKey = str | type | tuple

_LINEAR_CONV: tuple[type, ...] = (nn.Linear, _ConvNd)
_EMBEDDINGS: tuple[type, ...] = (nn.Embedding, nn.EmbeddingBag)
_LAYERS: tuple[type, ...] = (*_LINEAR_CONV, *_EMBEDDINGS)
# BatchNorm*, InstanceNorm* and SyncBatchNorm derive from _NormBase.
_NORMS: tuple[type, ...] = (_NormBase, nn.LayerNorm, nn.GroupNorm, *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()))
_NORM_WEIGHT, _NORM_BIAS = constant(1.0), zeros()


@dataclass(frozen=True)
class _Layout:
    """What the plan knows of the model as a whole: its head and its residual projections."""

    last: nn.Module | None
    residual: frozenset[int]  # ids of the residual projection modules

    @property
    def n_residual(self) -> int:
        return len(self.residual)


@dataclass(frozen=True)
class _Rule:
    key: RuleKey
    label: str
    weight: Scheme | None
    bias: Scheme | None

    def matches(self, name: str, module: nn.Module, layout: _Layout) -> bool:
        if self.key == LAST_LAYER:
            return module is layout.last
        if self.key == RESIDUAL_LAYERS:
            return id(module) in layout.residual
        if isinstance(self.key, str):
            return fnmatchcase(name, self.key)
        return isinstance(module, self.key)


@dataclass(frozen=True)
class _Step:
    layer: str
    module: nn.Module
    parameter: str
    tensor: torch.Tensor
    scheme: Scheme
    fan_in: int | None
    fan_out: int | None
    rule: _Rule | None  # the rule that chose the scheme; None: the defaults
    role: Role


@dataclass(frozen=True)
class _Defaults:
    """The schemes for parameters no rule covers (``initialize``'s ``weights`` and ``bias``)."""

    weights: Scheme
    bias: Scheme


def _parse_rule(key: object, value: object) -> _Rule:
    if isinstance(key, str):
        if key.startswith("@") and key not in _SPECIAL_KEYS:
            raise ValueError(f"rules: unknown special key {key!r}; valid: {', '.join(map(repr, _SPECIAL_KEYS))}")
        label = key
    elif isinstance(key, type) or (isinstance(key, tuple) and key and all(isinstance(k, type) for k in key)):
        label = key.__name__ if isinstance(key, type) else "(" + ", ".join(k.__name__ for k in key) + ")"
    else:
        raise ValueError(f"rules: a key must be a module type or a name pattern (str); got {key!r}")
    if isinstance(value, Mapping) and "name" not in value:
        extra = sorted(set(map(str, value)) - {"weight", "bias"})
        if extra or not value:
            raise ValueError(
                f"rules[{label!r}]: a dict value needs 'name' (a scheme spec) or 'weight'/'bias' keys;"
                f" got {sorted(map(str, value))}"
            )
        weight, bias = value.get("weight"), value.get("bias")
    else:
        weight, bias = value, None
    try:
        return _Rule(key, label, None if weight is None else get(weight), None if bias is None else get(bias))
    except ValueError as error:
        raise ValueError(f"rules[{label!r}]: {error}") from None


def _first_rule(
    rules: list[_Rule], name: str, module: nn.Module, ancestors: list[tuple[str, nn.Module]], layout: _Layout
) -> _Rule | None:
    """The first rule matching the module itself or (when ``ancestors`` is given) one of its ancestors."""
    for rule in rules:
        if rule.matches(name, module, layout) or any(rule.matches(n, m, layout) for n, m in ancestors):
            return rule
    return None


def _ancestors(name: str, by_name: dict[str, nn.Module]) -> list[tuple[str, nn.Module]]:
    if not name:
        return []
    parts = name.split(".")
    prefixes = [""] + [".".join(parts[:i]) for i in range(1, len(parts))]
    return [(prefix, by_name[prefix]) for prefix in prefixes if prefix in by_name]


def _slot(pname: str, param: torch.Tensor, is_layer: bool, is_norm: bool) -> str | None:
    """'weight', 'bias' or None (leave alone) for a parameter a module owns directly: which of a
    rule's two schemes applies to it."""
    if (is_layer or is_norm) and pname in ("weight", "bias"):
        return pname
    if param.dim() >= 2:
        return "weight"
    if param.dim() == 1 and "bias" in pname:
        return "bias"
    return None


def _paired_weight_fans(module: nn.Module, bias_name: str, bias: torch.Tensor) -> tuple[int, int]:
    """A bias takes the fans of its weight: ``bias`` -> ``weight``, ``in_proj_bias`` -> ``in_proj_weight``."""
    weight = getattr(module, bias_name.replace("bias", "weight"), None)
    if isinstance(weight, torch.Tensor) and weight.dim() >= 2:
        return compute_fans(weight)
    return compute_fans(bias)


def _skip_reason(where: str, param: nn.Parameter, slot: str | None, owner: dict[int, str]) -> str | None:
    """Why ``param`` is left as is (None: initialize it); records the first owner of each parameter."""
    if isinstance(param, UninitializedParameter):
        return "uninitialized lazy parameter; run a forward pass first"
    if id(param) in owner:
        return f"shared with {owner[id(param)]} (initialized there)"
    owner[id(param)] = where
    return None if slot is not None else "neither a weight (>= 2-D) nor a bias: left as is"


def _role_of(module: nn.Module, pname: str, param: torch.Tensor, slot: str, layout: _Layout) -> Role:
    """The role of a parameter (see :mod:`initopt.init.roles`)."""
    if isinstance(module, _NORMS) and pname in ("weight", "bias"):
        return Role.NORM_WEIGHT if slot == "weight" else Role.NORM_BIAS
    if slot == "bias":
        return Role.BIAS
    if isinstance(module, _EMBEDDINGS) and pname == "weight":
        return Role.BIAS if param.shape[-1] == 1 else Role.EMBEDDING  # a table of scalars is a bias
    if pname == "weight" and id(module) in layout.residual:
        return Role.RESIDUAL
    if pname == "weight" and module is layout.last:
        return Role.HEAD
    return Role.WEIGHT


def _fans(role: Role, module: nn.Module, pname: str, param: torch.Tensor) -> tuple[int, int] | None:
    if role in (Role.NORM_WEIGHT, Role.NORM_BIAS):
        return None  # fans mean nothing for a scale or shift
    if isinstance(module, _EMBEDDINGS) and pname == "weight":
        return embedding_fans(param)
    if role is Role.BIAS:
        return _paired_weight_fans(module, pname, param)
    return compute_fans(param)


def _default(role: Role, defaults: _Defaults) -> Scheme:
    if role is Role.NORM_WEIGHT:
        return _NORM_WEIGHT
    if role is Role.NORM_BIAS:
        return _NORM_BIAS
    return defaults.bias if role is Role.BIAS else defaults.weights


def _step(
    name: str,
    module: nn.Module,
    pname: str,
    param: nn.Parameter,
    slot: str,
    rule: _Rule | None,
    defaults: _Defaults,
    layout: _Layout,
) -> _Step:
    """The scheme and fans for one parameter: the rule's scheme for its slot if it has one, else the
    default for its role; a model-wide scheme gives its scheme for the role."""
    role = _role_of(module, pname, param, slot, layout)
    fans = _fans(role, module, pname, param)
    chosen = None if rule is None else (rule.weight if slot == "weight" else rule.bias)
    scheme = _default(role, defaults) if chosen is None else chosen
    if isinstance(scheme, ModelScheme):
        scheme = scheme.for_role(role, layout.n_residual)
    try:
        scheme.check_shape(tuple(param.shape))
    except ValueError as error:
        where = f"{name}.{pname}" if name else pname
        raise ValueError(f"{where} ({type(module).__name__}, shape {tuple(param.shape)}): {error}") from None
    fan_in, fan_out = fans if fans is not None else (None, None)
    return _Step(name, module, pname, param, scheme, fan_in, fan_out, None if chosen is None else rule, role)


def _layout(modules: list[tuple[str, nn.Module]]) -> _Layout:
    linear_conv = [m for _, m in modules if isinstance(m, _LINEAR_CONV)]
    return _Layout(linear_conv[-1] if linear_conv else None, frozenset(map(id, residual_projections(modules))))


def parameter_roles(model: nn.Module) -> dict[str, Role]:
    """Each parameter's qualified name -> its :class:`~initopt.init.roles.Role`, as ``initialize`` reads
    it; a shared parameter is named where it first appears; parameters ``initialize`` leaves alone
    (lazy ones, scalars, 1-D tensors not named bias outside layers and norms) are not listed."""
    modules = list(model.named_modules())
    layout = _layout(modules)
    roles: dict[str, Role] = {}
    seen: set[int] = set()
    for name, module in modules:
        is_layer, is_norm = isinstance(module, _LAYERS), isinstance(module, _NORMS)
        for pname, param in module.named_parameters(recurse=False):
            if id(param) in seen or isinstance(param, UninitializedParameter):
                continue
            seen.add(id(param))
            slot = _slot(pname, param, is_layer, is_norm)
            if slot is not None:
                roles[f"{name}.{pname}" if name else pname] = _role_of(module, pname, param, slot, layout)
    return roles


def _plan(model: nn.Module, defaults: _Defaults, rules: list[_Rule]) -> tuple[list[_Step], list[SkippedParam]]:
    modules = list(model.named_modules())
    by_name = dict(modules)
    layout = _layout(modules)
    owner: dict[int, str] = {}
    steps: list[_Step] = []
    skipped: list[SkippedParam] = []
    for name, module in modules:
        params = list(module.named_parameters(recurse=False))
        if not params:
            continue
        is_layer, is_norm = isinstance(module, _LAYERS), isinstance(module, _NORMS)
        # Norm layers keep weight 1 / bias 0 unless a rule names them directly (not via a parent).
        rule = _first_rule(rules, name, module, [] if is_norm else _ancestors(name, by_name), layout)
        for pname, param in params:
            lazy = isinstance(param, UninitializedParameter)
            slot = None if lazy else _slot(pname, param, is_layer, is_norm)
            reason = _skip_reason(f"{name}.{pname}" if name else pname, param, slot, owner)
            if reason is not None:
                shape = () if lazy else tuple(param.shape)  # a lazy parameter has no shape yet
                skipped.append(SkippedParam(name, type(module).__name__, pname, shape, reason))
            else:
                steps.append(_step(name, module, pname, param, slot, rule, defaults, layout))  # type: ignore[arg-type]
    _check_rules_used(rules, steps, [n for n, _ in modules if n], layout.last)
    return steps, skipped


def _check_rules_used(rules: list[_Rule], steps: list[_Step], module_names: list[str], last: nn.Module | None) -> None:
    """A name rule that sets nothing is almost always a typo: fail instead of silently doing nothing."""
    used = {id(step.rule) for step in steps}
    for rule in rules:
        if not isinstance(rule.key, str) or id(rule) in used:
            continue
        if rule.key == LAST_LAYER:
            detail = (
                "the model has no Linear/Conv layer"
                if last is None
                else "an earlier rule took that layer, or its parameters belong to an earlier module"
            )
            raise ValueError(f"rules: {LAST_LAYER!r} sets no parameter: {detail}")
        if rule.key == RESIDUAL_LAYERS:
            raise ValueError(
                f"rules: {RESIDUAL_LAYERS!r} sets no parameter: the model has no residual projection"
                " (initopt.init.mark_residual marks one; modules named c_proj count too),"
                " or an earlier rule took them"
            )
        matched = [n for n in module_names if fnmatchcase(n, rule.key)]
        if not matched:
            close = difflib.get_close_matches(rule.key, module_names, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"rules: pattern {rule.key!r} matches no module name{hint} (e.g. {module_names[:5]})")
        raise ValueError(
            f"rules: pattern {rule.key!r} matches {matched[:5]} but sets no parameter"
            " (they have none of their own, or an earlier rule took them)"
        )


def _expected_std(step: _Step) -> float | None:
    shape = tuple(step.tensor.shape)
    fan_in, fan_out = (step.fan_in, step.fan_out) if step.fan_in is not None else compute_fans(shape)
    return step.scheme.std(fan_in, fan_out, shape=shape)


def _population_std(tensor: torch.Tensor) -> float:
    if tensor.numel() == 0:
        return float("nan")
    return float(tensor.detach().float().std(correction=0))


def initialize(
    module: nn.Module,
    weights: SchemeLike = "he_normal",
    bias: SchemeLike = "zeros",
    *,
    seed: int | None = None,
    rules: Mapping[Any, Any] | None = None,
    data: torch.Tensor | None = None,
    batch_size: int = LSUV_BATCH_SIZE,
) -> InitSummary:
    """Initialize every layer of ``module`` in place and return what was done.

    - Linear, Conv{1,2,3}d, ConvTranspose{1,2,3}d weights get ``weights``; their biases get ``bias``,
      called with the layer's fan_in/fan_out (so ``bias="he_uniform"`` uses the layer's fan_in, not
      the bias length).
    - Embedding(Bag) tables ``(num, dim)`` get ``weights`` with fans ``(dim, dim)`` (the vocabulary
      size is not a fan); a table of width 1 (a learned scalar per index) is a bias and gets
      ``bias``. An Embedding's ``padding_idx`` row is zeroed afterwards.
    - Norm layers (BatchNorm*, InstanceNorm*, LayerNorm, GroupNorm, RMSNorm): weight 1, bias 0.
    - A model-wide scheme (``weights="gpt2"``) draws each parameter by its role: plain weight, output
      head, residual projection, embedding, bias, norm (:mod:`initopt.init.roles`).
    - Parameters other modules own directly (MultiheadAttention's ``in_proj_weight``): >= 2-D ones
      get ``weights``; 1-D ones whose name contains "bias" get ``bias`` with the fans of the
      matching weight (``in_proj_bias`` -> ``in_proj_weight``). Anything else is listed in
      ``summary.skipped``, as are parameters shared with an earlier module (initialized once, by
      their first owner) and uninitialized lazy parameters.

    ``rules`` maps a module type (isinstance), a glob on the qualified module name (``"head"``,
    ``"*.out_proj"``, ``"layers.7"``), ``"@last"`` (the last Linear/Conv layer) or ``"@residual"``
    (the residual projections: modules marked with ``mark_residual`` or named ``c_proj``) to a scheme for the
    weight, or to ``{"weight": ..., "bias": ...}``. A key selects a module and everything inside it,
    except norm layers, which a key must select directly. The first matching key wins, in the
    mapping's order. A string key that sets no parameter raises ``ValueError``.

    With ``seed``, every draw comes from one ``torch.Generator`` (CPU) seeded with it: the weights
    do not depend on, and do not change, the global RNG state, and are the same on every device.
    Without ``seed``, the global RNG is used.

    A scheme that needs data (``"lsuv"``, Mishkin & Matas 2016) takes it here: ``data`` (training
    inputs) gives the batch of ``batch_size`` rows, drawn with ``seed``, that each layer is rescaled
    on after the orthogonal draw; without ``data`` it is an error, not half a scheme. Every other
    scheme ignores ``data``, so a caller may pass it whatever the scheme (as studies do).

    Example::

        summary = initialize(model, "he_normal", seed=0,
                             rules={"@last": "zeros", nn.Embedding: get("normal", std=0.02)})
        print(summary)
    """
    if not isinstance(module, nn.Module):
        raise ValueError(f"initialize needs an nn.Module; got {type(module).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an int or None; got {seed!r}")
    parsed_rules = [_parse_rule(key, value) for key, value in (rules or {}).items()]
    defaults = _Defaults(get(weights), get(bias))
    if needs_batch(defaults.weights) and data is None:
        raise ValueError(f"weights={defaults.weights.spec()['name']!r} rescales each layer on a batch of "
                         "training inputs: pass them as data= (initialize(model, 'lsuv', data=train.x))")
    steps, skipped = _plan(module, defaults, parsed_rules)

    generator = None if seed is None else torch.Generator().manual_seed(seed)
    for step in steps:
        step.scheme(step.tensor, generator=generator, fan_in=step.fan_in, fan_out=step.fan_out)
        padding_idx = getattr(step.module, "padding_idx", None)
        if (
            isinstance(step.module, (nn.Embedding, nn.EmbeddingBag))
            and step.parameter == "weight"
            and padding_idx is not None
        ):
            with torch.no_grad():
                step.tensor[padding_idx].fill_(0)  # as nn.Embedding.reset_parameters does

    rows = [
        InitRecord(
            layer=step.layer,
            module_type=type(step.module).__name__,
            parameter=step.parameter,
            shape=tuple(step.tensor.shape),
            scheme=repr(step.scheme),
            fan_in=step.fan_in,
            fan_out=step.fan_out,
            expected_std=_expected_std(step),
            actual_std=_population_std(step.tensor),
            rule=None if step.rule is None else step.rule.label,
            role=step.role.value,
        )
        for step in steps
    ]
    if needs_batch(defaults.weights):
        params = defaults.weights.params
        lsuv(module, batch_of(data, batch_size, seed), params["tol"], params["max_iter"], orthogonal_init=False)
        modules = dict(module.named_modules())
        rows = [replace(row, actual_std=_population_std(getattr(modules[row.layer], row.parameter))) for row in rows]
    return InitSummary(rows=rows, skipped=skipped, seed=seed)
