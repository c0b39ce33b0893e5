"""One workload set-up for ``initopt train``, ``initopt doctor`` and studies: load the data, decide the
loss and the metric, build one model and try them on it, before any training.

Each front end names the fields its user wrote (``--model-option depth``, ``workload.depth``,
``--spec s.toml: train.loss``): ``where(field)`` turns the set-up's field names into those. The fields:
``dataset``, ``validation``, ``data.OPTION`` (a dataset option), ``model``, ``option.NAME`` (a model
option), ``loss``, ``metric``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn


class WorkloadError(ValueError):
    """A workload that cannot train: the message starts with the field as the user wrote it."""


@dataclass
class Setup:
    """A workload made concrete: the data's splits, the loss and metric (canonical names), and how to
    build its model (``build``; ``probe`` is the one built and tried on two training examples)."""

    splits: Any  # initopt.data ValidatedSplits: train, val (None: none held out), test, info
    loss: str
    metric: str
    model: str
    options: dict[str, Any]  # the model's options as build_model gets them (probabilities included)
    folder: Path | None = None
    probe: nn.Module | None = field(default=None, repr=False)

    @property
    def info(self):
        return self.splits.info

    @property
    def probabilities(self) -> bool:
        return bool(self.options.get("probabilities"))

    def build(self) -> nn.Module:
        """A fresh, uninitialized model: one call of a built-in or of a user factory (imported from
        ``folder`` first: a spec's folder, or the working directory for the commands)."""
        from initopt.models import build_model
        from initopt.models.factory import importable

        info = self.info
        with importable(self.folder):
            return build_model(self.model, n_features=info.n_features, out=info.output_dim,
                               input_shape=tuple(info.input_shape), dataset=info, **self.options)


def set_up(dataset: str, model: str, *, data_options: Mapping[str, Any] | None = None,
           model_options: Mapping[str, Any] | None = None, loss: str | None = None, metric: str | None = None,
           validation: float | str = 0.0, folder: Path | None = None,
           where: Callable[[str], str] = lambda name: name) -> Setup:
    """Load ``dataset`` (``validation``: held out of its training rows; relative paths read against
    ``folder``), fill in the loss and metric from its task, build ``model`` and run it on two training
    examples, try the loss and the metric on its output. Any error: ``WorkloadError`` naming the field."""
    import torch

    from initopt import data
    from initopt.data.paths import resolve_dataset
    from initopt.data.validation import ValidationError
    from initopt.models.factory import ModelOptionError
    from initopt.training.losses import PROBABILITY_LOSSES, loss_name
    from initopt.training.objective import ObjectiveError, check_objective

    def fail(name: str, text: object) -> WorkloadError:
        return WorkloadError(f"{where(name)}: {text}")

    try:
        splits = data.load_validated(resolve_dataset(dataset, folder), validation, **dict(data_options or {}))
    except data.OptionError as exc:
        raise fail("validation" if exc.option == "validation" else f"data.{exc.option}", exc) from None
    except ValidationError as exc:
        raise fail("validation", exc) from None
    except (ValueError, OSError) as exc:
        raise fail("dataset", exc) from None
    info = splits.train.info
    loss, metric = loss or info.default_loss, metric or info.default_metric
    options = dict(model_options or {})
    try:
        if ":" not in model and loss_name(loss) in PROBABILITY_LOSSES:
            options["probabilities"] = True  # a loss on probabilities: the built-ins end in a sigmoid
    except ValueError:
        pass  # an unknown loss is reported below, once the model's output is known
    setup = Setup(splits, loss, metric, model, options, folder)
    try:
        probe = setup.build()
    except ModelOptionError as exc:
        raise fail(f"option.{exc.option}", exc) from None
    except (ValueError, TypeError) as exc:
        raise fail("model", exc) from None
    x, y = splits.train.x[:2], splits.train.y[:2]
    try:
        with torch.no_grad():
            output = probe(x)
    except Exception as exc:  # a model that cannot take this dataset's inputs
        raise fail("model", f"{model!r} fails on {info.name} inputs of shape {tuple(x.shape[1:])}: {exc}") from None
    try:
        setup.loss, setup.metric = check_objective(loss, metric, info.task, output, y)
    except ObjectiveError as exc:
        raise fail(exc.field, exc) from None
    setup.probe = probe
    return setup
