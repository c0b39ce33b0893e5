"""Build a model by name (``mlp``, ``deep-mlp``, ``cnn1d``) or from a user factory ``package.module:function``."""

from __future__ import annotations

import importlib
from typing import Any

from torch import nn

from initopt._suggest import did_you_mean, unknown
from initopt.models.cnn1d import CNN1d
from initopt.models.mlp import deep_mlp, mlp

BUILTIN_MODELS = ("mlp", "deep-mlp", "cnn1d")


def load_factory(path: str):
    """Import ``package.module:function`` and return the function; errors name the path."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ValueError(f"model factory {path!r} must look like 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure is the user's to fix; name it
        raise ValueError(f"model factory {path!r}: cannot import {module_name!r}: {exc}") from exc
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"model factory {path!r}: module {module_name!r} has no attribute {attr!r}") from None
    if not callable(factory):
        raise ValueError(f"model factory {path!r} is not callable")
    return factory


def build_model(name: str, *, n_features: int, out: int, input_shape: tuple[int, ...] = (), **options: Any) -> nn.Module:
    """Return a fresh model for a dataset with ``n_features`` inputs and ``out`` outputs.

    ``options`` are the workload's model options: ``hidden`` and ``activation`` for ``mlp``;
    ``depth``, ``width`` and ``activation`` for ``deep-mlp``; ``channels`` and ``activation`` for ``cnn1d``;
    ``probabilities=True`` ends a built-in model in a sigmoid (for a loss on probabilities).
    A user factory is called with ``n_features=``, ``out=`` and the options, and must return an nn.Module.
    """
    key = name.strip().lower().replace("_", "-")
    if ":" in name:
        factory = load_factory(name)
        try:
            model = factory(n_features=n_features, out=out, **options)
        except Exception as exc:
            raise ValueError(f"model factory {name!r} failed: {exc}") from exc
        if not isinstance(model, nn.Module):
            raise ValueError(f"model factory {name!r} returned {type(model).__name__}, not an nn.Module")
        return model
    probabilities = options.pop("probabilities", False)
    if key in ("mlp", "deep-mlp"):
        if key == "mlp":
            model = mlp(n_features, out=out, **_only(options, "hidden", "activation", model=key))
        else:
            model = deep_mlp(n_features, out=out, **_only(options, "depth", "width", "activation", model=key))
        # inputs with more than one axis (an .npz of images, say) are flattened first
        layers = [nn.Flatten()] if len(input_shape) > 1 else []
        return nn.Sequential(*layers, *model, *([nn.Sigmoid()] if probabilities else [])) if layers or probabilities else model
    if key == "cnn1d":
        model = CNN1d(n_features, out, **_only(options, "channels", "activation", model=key))
        return nn.Sequential(model, nn.Sigmoid()) if probabilities else model
    raise ValueError(unknown("model", name, BUILTIN_MODELS, extra=", or package.module:function"))


class ModelOptionError(ValueError):
    """A built-in model was given an option it does not take; ``option`` names it."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


def _only(options: dict[str, Any], *allowed: str, model: str) -> dict[str, Any]:
    unknown_options = sorted(set(options) - set(allowed))
    if unknown_options:
        raise ModelOptionError(unknown_options[0], f"model {model!r} does not take option {unknown_options[0]!r}{did_you_mean(unknown_options[0], allowed)} "
                         f"(it takes: {', '.join(allowed)})")
    return options
