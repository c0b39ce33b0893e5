"""Build a model by name (``mlp``, ``deep-mlp``, ``cnn1d``, ``cnn2d``, ``transformer``, ``mf``) or from a
user factory ``package.module:function``."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from torch import nn

from initopt._suggest import unknown
from initopt.models.activations import make_activation
from initopt.models.cnn1d import CNN1d
from initopt.models.cnn2d import CNN2d, image_shape
from initopt.models.mf import MatrixFactorization
from initopt.models.mlp import deep_mlp, mlp
from initopt.models.options import ModelOptionError, flag, fraction, only, sizes, whole
from initopt.models.transformer import Transformer

__all__ = ["BUILTIN_MODELS", "MODEL_DEFAULTS", "ModelOptionError", "build_model", "importable", "load_factory"]

BUILTIN_MODELS = ("mlp", "deep-mlp", "cnn1d", "cnn2d", "transformer", "mf")
#: The defaults of the new built-ins' options (``context``, ``n_users`` and ``n_items`` come from the dataset).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "cnn2d": {"channels": 32, "depth": 2, "batchnorm": True, "activation": "relu"},
    "transformer": {"d_model": 64, "layers": 2, "heads": 4, "dropout": 0.0},
    "mf": {"dim": 32},
}


@contextlib.contextmanager
def importable(folder: str | Path | None) -> Iterator[None]:
    """``folder`` first on ``sys.path`` while the block runs (``None``: nothing changes).

    A study spec's ``package.module:function`` is imported from the spec's folder, and the factory
    is called inside the block too, so that a factory importing a sibling module when it runs finds
    it; the folder leaves ``sys.path`` afterwards, so two specs' folders never shadow each other."""
    if folder is None:
        yield
        return
    entry = str(folder)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()  # a package written after the last import of this process
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):  # the block may have taken it out itself
            sys.path.remove(entry)  # the first occurrence: ours, at the front


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


def build_model(
    name: str,
    *,
    n_features: int,
    out: int,
    input_shape: tuple[int, ...] = (),
    dataset: Any = None,
    **options: Any,
) -> nn.Module:
    """Return a fresh model for a dataset with ``n_features`` inputs and ``out`` outputs.

    ``options`` are the workload's model options:

    - ``mlp``: ``hidden``, ``activation``; ``deep-mlp``: ``depth``, ``width``, ``activation``;
      ``cnn1d``: ``channels`` (list), ``activation``;
    - ``cnn2d``: ``channels`` (32, or a list, one per block), ``depth`` (2), ``batchnorm`` (true),
      ``activation`` ("relu"), ``image_shape`` ([C, H, W]; default from ``input_shape``, a flat
      square read as one channel);
    - ``transformer``: ``d_model`` (64), ``layers`` (2), ``heads`` (4), ``context`` (the input
      length), ``dropout`` (0.0);
    - ``mf``: ``dim`` (32), ``n_users``, ``n_items`` (default: the dataset's);
    - every built-in: ``probabilities=True`` ends it in a sigmoid (for a loss on probabilities).

    ``dataset`` (an ``initopt.data.DatasetInfo`` or None) tells the transformer its vocabulary
    (``vocab_size``, else ``out``) and whether targets are per token (``target_shape`` non-empty:
    logits for every position), and ``mf`` its ``n_users``/``n_items``. An option a model does not
    take, or a value it cannot use, raises ``ModelOptionError`` naming the option.

    A user factory is called with ``n_features=``, ``out=`` and the options (and ``dataset=`` when
    it has a parameter of that name), and must return an nn.Module.
    """
    key = name.strip().lower().replace("_", "-")
    if ":" in name:
        return _user_model(name, n_features=n_features, out=out, dataset=dataset, options=options)
    probabilities = options.pop("probabilities", False)
    if key in ("mlp", "deep-mlp"):
        if key == "mlp":
            model = mlp(n_features, out=out, **only(options, "hidden", "activation", model=key))
        else:
            model = deep_mlp(n_features, out=out, **only(options, "depth", "width", "activation", model=key))
        # inputs with more than one axis (an .npz of images, say) are flattened first
        layers = [nn.Flatten()] if len(input_shape) > 1 else []
        return nn.Sequential(*layers, *model, *([nn.Sigmoid()] if probabilities else [])) if layers or probabilities else model
    builder = _BUILDERS.get(key)
    if builder is None:
        raise ValueError(unknown("model", name, BUILTIN_MODELS, extra=", or package.module:function"))
    model = builder(n_features, out, tuple(input_shape), dataset, options)
    return nn.Sequential(model, nn.Sigmoid()) if probabilities else model


def _user_model(name: str, *, n_features: int, out: int, dataset: Any, options: dict[str, Any]) -> nn.Module:
    factory = load_factory(name)
    extra = {"dataset": dataset} if _takes_dataset(factory) else {}
    try:
        model = factory(n_features=n_features, out=out, **extra, **options)
    except Exception as exc:
        raise ValueError(f"model factory {name!r} failed: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise ValueError(f"model factory {name!r} returned {type(model).__name__}, not an nn.Module")
    return model


def _takes_dataset(factory: Callable[..., Any]) -> bool:
    """Only a factory that names ``dataset`` gets it: older factories with ``**kwargs`` may pass them on."""
    try:
        return "dataset" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins and C callables without a signature
        return False


def _activation(model: str, value: object) -> str:
    try:
        make_activation(value)  # type: ignore[arg-type]
    except (ValueError, AttributeError) as exc:
        raise ModelOptionError("activation", f"model {model!r}: {exc}") from None
    return value  # type: ignore[return-value]


def _cnn1d(n_features: int, out: int, input_shape: tuple[int, ...], dataset: Any, options: dict[str, Any]) -> nn.Module:
    return CNN1d(n_features, out, **only(options, "channels", "activation", model="cnn1d"))


def _cnn2d(n_features: int, out: int, input_shape: tuple[int, ...], dataset: Any, options: dict[str, Any]) -> nn.Module:
    opts = {**MODEL_DEFAULTS["cnn2d"], **only(options, "channels", "depth", "batchnorm", "activation", "image_shape", model="cnn2d")}
    if "image_shape" in opts:
        image = tuple(sizes("cnn2d", "image_shape", opts["image_shape"]))
        if len(image) != 3 or math.prod(image) != n_features:
            raise ModelOptionError("image_shape", f"model 'cnn2d': option 'image_shape' must be [C, H, W] with "
                                                  f"C * H * W = {n_features} (the inputs' size), got {list(image)}")
    else:
        image = image_shape(input_shape, n_features)
    if isinstance(opts["channels"], int) and not isinstance(opts["channels"], bool):
        channels = [whole("cnn2d", "channels", opts["channels"])] * whole("cnn2d", "depth", opts["depth"])
    else:
        channels = sizes("cnn2d", "channels", opts["channels"])
        if "depth" in options and whole("cnn2d", "depth", options["depth"]) != len(channels):
            raise ModelOptionError("depth", f"model 'cnn2d': option 'depth' ({options['depth']}) differs from the "
                                            f"number of blocks that 'channels' lists ({len(channels)})")
    return CNN2d(image, out, channels, flag("cnn2d", "batchnorm", opts["batchnorm"]),  # type: ignore[arg-type]
                 _activation("cnn2d", opts["activation"]))


def _sequence_length(model: str, n_features: int, input_shape: tuple[int, ...], dataset: Any) -> int:
    kind = getattr(dataset, "input_kind", None)
    if kind not in (None, "tokens"):
        raise ValueError(f"model {model!r} needs token sequences; dataset {getattr(dataset, 'name', '')!r} has {kind!r} inputs")
    if len(input_shape) > 1:
        raise ValueError(f"model {model!r} needs inputs of shape (T,) (token ids); got {input_shape}")
    return input_shape[0] if input_shape else n_features


def _transformer(n_features: int, out: int, input_shape: tuple[int, ...], dataset: Any, options: dict[str, Any]) -> nn.Module:
    opts = {**MODEL_DEFAULTS["transformer"], **only(options, "d_model", "layers", "heads", "context", "dropout", model="transformer")}
    length = _sequence_length("transformer", n_features, input_shape, dataset)
    d_model, heads = whole("transformer", "d_model", opts["d_model"]), whole("transformer", "heads", opts["heads"])
    if d_model % heads:
        raise ModelOptionError("heads", f"model 'transformer': option 'heads' ({heads}) must divide d_model ({d_model})")
    context = whole("transformer", "context", opts.get("context", length))
    if context < length:
        raise ModelOptionError("context", f"model 'transformer': option 'context' ({context}) is shorter than the inputs ({length} tokens)")
    vocab = getattr(dataset, "vocab_size", None) or out
    per_token = bool(tuple(getattr(dataset, "target_shape", None) or ()))
    return Transformer(whole("transformer", "vocab_size", vocab), out, context, d_model,
                       whole("transformer", "layers", opts["layers"]), heads,
                       fraction("transformer", "dropout", opts["dropout"]), per_token)


def _mf(n_features: int, out: int, input_shape: tuple[int, ...], dataset: Any, options: dict[str, Any]) -> nn.Module:
    opts = {**MODEL_DEFAULTS["mf"], **only(options, "dim", "n_users", "n_items", model="mf")}
    kind = getattr(dataset, "input_kind", None)
    if kind not in (None, "pairs") or tuple(input_shape) not in ((), (2,)):
        raise ValueError(f"model 'mf' needs (user, item) pairs, inputs of shape (2,); got {input_shape}"
                         + (f" ({kind!r} inputs)" if kind else ""))
    if out != 1:
        raise ValueError(f"model 'mf' predicts one value per pair (regression or binary); the dataset needs {out} outputs")
    counts = {}
    for option in ("n_users", "n_items"):
        value = opts.get(option, getattr(dataset, option, None) or None)  # DatasetInfo says 0 for "not pairs"
        if value is None:
            raise ModelOptionError(option, f"model 'mf' needs option {option!r}: the dataset does not give it")
        counts[option] = whole("mf", option, value)
    return MatrixFactorization(counts["n_users"], counts["n_items"], whole("mf", "dim", opts["dim"]))


_BUILDERS: dict[str, Callable[[int, int, tuple[int, ...], Any, dict[str, Any]], nn.Module]] = {
    "cnn1d": _cnn1d,
    "cnn2d": _cnn2d,
    "transformer": _transformer,
    "mf": _mf,
}

