"""Weight initialization: schemes with their formulas, a registry of names, and ``initialize``.

    from initopt.init import get, initialize, explain
    scheme = get("he_normal")                   # he_normal(mode='fan_in', nonlinearity='relu')
    scheme(torch.empty(256, 128), generator=torch.Generator().manual_seed(0))
    summary = initialize(model, "he_normal", seed=0, rules={"@last": "zeros"})
    initialize(transformer, "gpt2", seed=0)     # each parameter by its role (residual projections / sqrt(N))
    print(explain("he_normal", fan_in=100))     # std 0.1414, 99.7% of weights within +-0.42

See docs/init.md for every scheme's formula, source and conventions.
"""

from __future__ import annotations

from initopt.init.apply import LAST_LAYER, RESIDUAL_LAYERS, initialize, parameter_roles
from initopt.init.distributions import Distribution, Kind
from initopt.init.explain import Explanation, explain
from initopt.init.fans import NONLINEARITIES, calculate_gain, compute_fans
from initopt.init.lsuv import LSUVLayer, LSUVResult, lsuv, needs_batch
from initopt.init.model_schemes import ModelScheme, gpt2, residual_std
from initopt.init.parametrize import PARAMETRIZATIONS, ParamRule, parametrize, with_lr
from initopt.init.registry import SchemeLike, aliases, get, names
from initopt.init.roles import Role, is_residual_projection, mark_residual
from initopt.init.scheme import Scheme
from initopt.init.schemes import (
    constant,
    dirac,
    gaussian,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    identity,
    kaiming_normal,
    kaiming_uniform,
    lecun_normal,
    lecun_uniform,
    normal,
    orthogonal,
    trunc_normal,
    uniform,
    xavier_normal,
    xavier_uniform,
    zeros,
)
from initopt.init.summary import InitRecord, InitSummary, SkippedParam

__all__ = [
    "PARAMETRIZATIONS",
    "ParamRule",
    "parametrize",
    "with_lr",
    "LAST_LAYER",
    "NONLINEARITIES",
    "Distribution",
    "Explanation",
    "InitRecord",
    "InitSummary",
    "Kind",
    "LSUVLayer",
    "LSUVResult",
    "ModelScheme",
    "RESIDUAL_LAYERS",
    "Role",
    "Scheme",
    "SchemeLike",
    "SkippedParam",
    "aliases",
    "calculate_gain",
    "compute_fans",
    "constant",
    "dirac",
    "explain",
    "gaussian",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "gpt2",
    "he_normal",
    "he_uniform",
    "identity",
    "initialize",
    "parameter_roles",
    "is_residual_projection",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "lsuv",
    "mark_residual",
    "names",
    "needs_batch",
    "normal",
    "orthogonal",
    "residual_std",
    "trunc_normal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]
