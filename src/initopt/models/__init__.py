"""Built-in models: ``mlp``, ``deep_mlp``, ``CNN1d`` and ``build_model`` (by name or user factory)."""

from initopt.models.activations import activation_names, make_activation
from initopt.models.cnn1d import CNN1d
from initopt.models.factory import BUILTIN_MODELS, build_model, load_factory
from initopt.models.mlp import deep_mlp, describe_mlp, mlp

__all__ = [
    "BUILTIN_MODELS",
    "CNN1d",
    "activation_names",
    "build_model",
    "deep_mlp",
    "describe_mlp",
    "load_factory",
    "make_activation",
    "mlp",
]
