"""``initialize(model, ...)``: apply weight and bias schemes to every layer of a model.

Two passes: first a plan (which scheme, which fans, for every parameter; all validation happens
here, so a bad rule or a scheme that does not fit a shape fails before any weight changes), then
the draws, in ``named_modules()`` order and, within a module, in parameter registration order.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd
from torch.nn.parameter import UninitializedParameter

from initopt.init.fans import compute_fans
from initopt.init.registry import SchemeLike, get
from initopt.init.scheme import Scheme
from initopt.init.schemes import constant, zeros
from initopt.init.summary import InitRecord, InitSummary, SkippedParam

__all__ = ["LAST_LAYER", "RuleKey", "initialize"]

#: Rules key naming the last Linear/Conv layer in ``named_modules()`` order (the output head).
LAST_LAYER = "@last"
RuleKey = str | type | tuple

_LINEAR_CONV: tuple[type, ...] = (nn.Linear, _ConvNd)
_LAYERS: tuple[type, ...] = (*_LINEAR_CONV, nn.Embedding, nn.EmbeddingBag)
# BatchNorm*, InstanceNorm* and SyncBatchNorm derive from _NormBase.
_NORMS: tuple[type, ...] = (_NormBase, nn.LayerNorm, nn.GroupNorm, *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()))
_NORM_WEIGHT, _NORM_BIAS = constant(1.0), zeros()


@dataclass(frozen=True)
class _Rule:
    key: RuleKey
    label: str
    weight: Scheme | None
    bias: Scheme | None

    def matches(self, name: str, module: nn.Module, last: nn.Module | None) -> bool:
        if isinstance(self.key, str):
            return module is last if self.key == LAST_LAYER else fnmatchcase(name, self.key)
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


@dataclass(frozen=True)
class _Defaults:
    """The schemes for parameters no rule covers (``initialize``'s ``weights`` and ``bias``)."""

    weights: Scheme
    bias: Scheme


def _parse_rule(key: object, value: object) -> _Rule:
    if isinstance(key, str):
        if key.startswith("@") and key != LAST_LAYER:
            raise ValueError(f"rules: unknown special key {key!r}; valid: {LAST_LAYER!r}")
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
    rules: list[_Rule], name: str, module: nn.Module, ancestors: list[tuple[str, nn.Module]], last: nn.Module | None
) -> _Rule | None:
    """The first rule matching the module itself or (when ``ancestors`` is given) one of its ancestors."""
    for rule in rules:
        if rule.matches(name, module, last) or any(rule.matches(n, m, last) for n, m in ancestors):
            return rule
    return None


def _ancestors(name: str, by_name: dict[str, nn.Module]) -> list[tuple[str, nn.Module]]:
    if not name:
        return []
    parts = name.split(".")
    prefixes = [""] + [".".join(parts[:i]) for i in range(1, len(parts))]
    return [(prefix, by_name[prefix]) for prefix in prefixes if prefix in by_name]


def _role(pname: str, param: torch.Tensor, is_layer: bool, is_norm: bool) -> str | None:
    """'weight', 'bias' or None (leave alone) for a parameter a module owns directly."""
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


def _skip_reason(where: str, param: nn.Parameter, role: str | None, owner: dict[int, str]) -> str | None:
    """Why ``param`` is left as is (None: initialize it); records the first owner of each parameter."""
    if isinstance(param, UninitializedParameter):
        return "uninitialized lazy parameter; run a forward pass first"
    if id(param) in owner:
        return f"shared with {owner[id(param)]} (initialized there)"
    owner[id(param)] = where
    return None if role is not None else "neither a weight (>= 2-D) nor a bias: left as is"


def _step(
    name: str, module: nn.Module, pname: str, param: nn.Parameter, role: str, rule: _Rule | None, defaults: _Defaults
) -> _Step:
    """The scheme and fans for one parameter: the rule's scheme for its role if it has one, else the default."""
    fans: tuple[int, int] | None
    if isinstance(module, _NORMS) and pname in ("weight", "bias"):  # fans mean nothing for a scale or shift
        fans, default = None, (_NORM_WEIGHT if role == "weight" else _NORM_BIAS)
    elif role == "weight":
        fans, default = compute_fans(param), defaults.weights
    else:
        fans, default = _paired_weight_fans(module, pname, param), defaults.bias
    chosen = None if rule is None else (rule.weight if role == "weight" else rule.bias)
    scheme = default if chosen is None else chosen
    try:
        scheme.check_shape(tuple(param.shape))
    except ValueError as error:
        where = f"{name}.{pname}" if name else pname
        raise ValueError(f"{where} ({type(module).__name__}, shape {tuple(param.shape)}): {error}") from None
    fan_in, fan_out = fans if fans is not None else (None, None)
    return _Step(name, module, pname, param, scheme, fan_in, fan_out, None if chosen is None else rule)


def _plan(model: nn.Module, defaults: _Defaults, rules: list[_Rule]) -> tuple[list[_Step], list[SkippedParam]]:
    modules = list(model.named_modules())
    by_name = dict(modules)
    linear_conv = [m for _, m in modules if isinstance(m, _LINEAR_CONV)]
    last = linear_conv[-1] if linear_conv else None
    owner: dict[int, str] = {}
    steps: list[_Step] = []
    skipped: list[SkippedParam] = []
    for name, module in modules:
        params = list(module.named_parameters(recurse=False))
        if not params:
            continue
        is_layer, is_norm = isinstance(module, _LAYERS), isinstance(module, _NORMS)
        # Norm layers keep weight 1 / bias 0 unless a rule names them directly (not via a parent).
        rule = _first_rule(rules, name, module, [] if is_norm else _ancestors(name, by_name), last)
        for pname, param in params:
            lazy = isinstance(param, UninitializedParameter)
            role = None if lazy else _role(pname, param, is_layer, is_norm)
            reason = _skip_reason(f"{name}.{pname}" if name else pname, param, role, owner)
            if reason is not None:
                shape = () if lazy else tuple(param.shape)  # a lazy parameter has no shape yet
                skipped.append(SkippedParam(name, type(module).__name__, pname, shape, reason))
            else:
                steps.append(_step(name, module, pname, param, role, rule, defaults))  # type: ignore[arg-type]
    _check_rules_used(rules, steps, [n for n, _ in modules if n], last)
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
) -> InitSummary:
    """Initialize every layer of ``module`` in place and return what was done.

    - Linear, Conv{1,2,3}d, ConvTranspose{1,2,3}d, Embedding(Bag) weights get ``weights``; their
      biases get ``bias``, called with the layer's fan_in/fan_out (so ``bias="he_uniform"`` uses the
      layer's fan_in, not the bias length). An Embedding's ``padding_idx`` row is zeroed afterwards.
    - Norm layers (BatchNorm*, InstanceNorm*, LayerNorm, GroupNorm, RMSNorm): weight 1, bias 0.
    - Parameters other modules own directly (MultiheadAttention's ``in_proj_weight``): >= 2-D ones
      get ``weights``; 1-D ones whose name contains "bias" get ``bias`` with the fans of the
      matching weight (``in_proj_bias`` -> ``in_proj_weight``). Anything else is listed in
      ``summary.skipped``, as are parameters shared with an earlier module (initialized once, by
      their first owner) and uninitialized lazy parameters.

    ``rules`` maps a module type (isinstance), a glob on the qualified module name (``"head"``,
    ``"*.out_proj"``, ``"layers.7"``) or ``"@last"`` (the last Linear/Conv layer) to a scheme for the
    weight, or to ``{"weight": ..., "bias": ...}``. A key selects a module and everything inside it,
    except norm layers, which a key must select directly. The first matching key wins, in the
    mapping's order. A string key that sets no parameter raises ``ValueError``.

    With ``seed``, every draw comes from one ``torch.Generator`` (CPU) seeded with it: the weights
    do not depend on, and do not change, the global RNG state, and are the same on every device.
    Without ``seed``, the global RNG is used.

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
    steps, skipped = _plan(module, _Defaults(get(weights), get(bias)), parsed_rules)

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
        )
        for step in steps
    ]
    return InitSummary(rows=rows, skipped=skipped, seed=seed)
