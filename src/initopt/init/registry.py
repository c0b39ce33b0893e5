"""The one place names users type become schemes: ``get("He-Normal", mode="fan_out")``.

Names are case-insensitive, ``-``, ``_`` and spaces are equivalent, and the other frameworks'
names are aliases (``kaiming_normal`` -> ``he_normal``). ``get`` also takes a spec dict
(``{"name": "normal", "std": 0.02}``, as study configs write inits) or a ready ``Scheme``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from initopt.init import schemes
from initopt.init._validate import unknown_choice_message
from initopt.init.lsuv import lsuv_scheme
from initopt.init.model_schemes import gpt2
from initopt.init.scheme import Scheme

__all__ = ["SchemeLike", "aliases", "get", "names"]

#: What every ``weights=``/``bias=``/rule value accepts: a name, a spec dict or a Scheme.
SchemeLike = str | Mapping[str, Any] | Scheme

_FACTORIES: dict[str, Callable[..., Scheme]] = {
    "zeros": schemes.zeros,
    "constant": schemes.constant,
    "normal": schemes.normal,
    "uniform": schemes.uniform,
    "xavier_normal": schemes.xavier_normal,
    "xavier_uniform": schemes.xavier_uniform,
    "he_normal": schemes.he_normal,
    "he_uniform": schemes.he_uniform,
    "lecun_normal": schemes.lecun_normal,
    "lecun_uniform": schemes.lecun_uniform,
    "orthogonal": schemes.orthogonal,
    "trunc_normal": schemes.trunc_normal,
    "identity": schemes.identity,
    "dirac": schemes.dirac,
    # model-wide: draws each parameter by its role (initopt.init.model_schemes); per tensor, N(0, std^2)
    "gpt2": gpt2,
}
_ALIASES: dict[str, str] = {
    "gaussian": "normal",
    "glorot_normal": "xavier_normal",
    "glorot_uniform": "xavier_uniform",
    "kaiming_normal": "he_normal",
    "kaiming_uniform": "he_uniform",
}
#: Schemes that need a batch of data (``initialize(..., data=...)`` runs them); ``get`` knows them, but
#: ``names()`` lists the per-tensor schemes only.
_DATA_DEPENDENT: dict[str, Callable[..., Scheme]] = {"lsuv": lsuv_scheme}
_ALL: dict[str, Callable[..., Scheme]] = {**_FACTORIES, **_DATA_DEPENDENT}


def names() -> list[str]:
    """The canonical names of the schemes that need no data, sorted (``get`` also knows ``"lsuv"``, which needs data).

    ``gpt2`` is among them: a model-wide scheme (each parameter by its role) that also draws per tensor.
    """
    return sorted(_FACTORIES)


def aliases() -> dict[str, str]:
    """Alias -> canonical name."""
    return dict(_ALIASES)


def canonical_name(name: str) -> str:
    """Resolve case, ``-``/space/``_`` and aliases; ``ValueError`` with the closest match if unknown."""
    if not isinstance(name, str):
        raise ValueError(f"init scheme name must be a string; got {name!r}")
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in _ALL:
        raise ValueError(unknown_choice_message("init scheme", name, [*_ALL, *_ALIASES], match_on=key))
    return key


def accepted_params(name: str) -> list[str]:
    """The parameters scheme ``name`` takes (after resolving aliases)."""
    return list(inspect.signature(_ALL[canonical_name(name)]).parameters)


def get(scheme: SchemeLike, **params: Any) -> Scheme:
    """Return the scheme a name, spec dict or Scheme describes.

    Examples::

        get("he_normal")                         # he_normal(mode='fan_in', nonlinearity='relu')
        get("Kaiming-Uniform", mode="fan_out")   # alias, any case, '-' for '_'
        get({"name": "gaussian", "std": 0.02})   # normal(mean=0.0, std=0.02)
        get(get("zeros"))                        # a Scheme is returned as is

    Keyword ``params`` add to (and override) a dict's. Unknown names, unknown parameters and invalid
    values raise ``ValueError`` naming them (with the closest valid name where there is one).
    """
    if isinstance(scheme, Scheme):
        if params:
            raise ValueError(
                f"cannot add parameters {sorted(params)} to the built scheme {scheme!r}; pass a name or dict"
            )
        return scheme
    if isinstance(scheme, Mapping):
        if "name" not in scheme:
            raise ValueError(f"an init spec dict needs a 'name' key; got keys {sorted(map(str, scheme))}")
        spec = dict(scheme)
        name = spec.pop("name")
        params = {**spec, **params}
    else:
        name = scheme
    key = canonical_name(name)
    signature = inspect.signature(_ALL[key]).parameters
    for param in params:
        if param not in signature:
            raise ValueError(unknown_choice_message("parameter", param, signature, context=f" for init scheme {key!r}"))
    missing = [p for p, info in signature.items() if info.default is inspect.Parameter.empty and p not in params]
    if missing:
        raise ValueError(f"init scheme {key!r} needs parameter {missing[0]!r}; e.g. get({key!r}, {missing[0]}=...)")
    try:
        return _ALL[key](**params)
    except ValueError as error:
        raise ValueError(f"init scheme {key!r}: {error}") from None
