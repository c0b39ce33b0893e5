"""Built-in models: ``mlp``, ``deep_mlp``, ``CNN1d``, ``CNN2d``, ``Transformer``, ``MatrixFactorization``
and ``build_model`` (by name or user factory)."""

from initopt.models.activations import activation_names, make_activation
from initopt.models.cnn1d import CNN1d
from initopt.models.cnn2d import CNN2d
from initopt.models.factory import BUILTIN_MODELS, MODEL_DEFAULTS, build_model, load_factory
from initopt.models.mf import MatrixFactorization
from initopt.models.mlp import deep_mlp, describe_mlp, mlp
from initopt.models.options import ModelOptionError
from initopt.models.transformer import Transformer

__all__ = [
    "BUILTIN_MODELS",
    "CNN1d",
    "CNN2d",
    "MODEL_DEFAULTS",
    "MatrixFactorization",
    "ModelOptionError",
    "Transformer",
    "activation_names",
    "build_model",
    "deep_mlp",
    "describe_mlp",
    "load_factory",
    "make_activation",
    "mlp",
]
