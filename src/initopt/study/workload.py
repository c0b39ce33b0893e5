"""A study's workload made concrete: data loaded, loss and metric resolved, models built per configuration."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from initopt.study.spec import Config, SpecError, StudySpec


@dataclass
class PreparedWorkload:
    spec: StudySpec
    train: Any  # initopt.data Split
    test: Any
    loss: str
    metric: str

    @property
    def info(self):
        return self.train.info

    def build(self) -> nn.Module:
        """A fresh, uninitialized model of the workload."""
        from initopt.models import build_model

        info = self.info
        options = dict(self.spec.workload.options)
        return build_model(self.spec.workload.model, n_features=info.n_features, out=info.output_dim,
                           input_shape=tuple(info.input_shape), **options)

    def initialized_model(self, config: Config) -> nn.Module:
        """The model of ``config``: built, then its weights drawn with the config's scheme and seed."""
        from initopt import init

        model = self.build()
        init.initialize(model, weights=init.get(config.init), bias="zeros", seed=config.seed)
        return model


def prepare(spec: StudySpec) -> PreparedWorkload:
    """Load the data, resolve loss/metric, build one model: every workload error before any training.

    ``workload.spec`` is ``spec`` with the loss and metric filled in from the dataset's task.
    """
    from initopt import data
    from initopt.training import get_loss, get_metric

    try:
        splits = data.load(spec.workload.dataset)
    except (ValueError, OSError) as exc:
        raise SpecError(f"workload.dataset: {exc}") from None
    info = splits.train.info
    loss = spec.train.loss or info.default_loss
    metric = spec.train.metric or info.default_metric
    try:
        get_loss(loss)
    except ValueError as exc:
        raise SpecError(f"train.loss: {exc}") from None
    try:
        get_metric(metric)
    except ValueError as exc:
        raise SpecError(f"train.metric: {exc}") from None
    # Resolved names make an omitted loss and the explicit default name the same configurations.
    spec = replace(spec, train=replace(spec.train, loss=loss, metric=metric))
    workload = PreparedWorkload(spec, splits.train, splits.test, loss, metric)
    try:
        model = workload.build()
    except (ValueError, TypeError) as exc:
        raise SpecError(f"workload.model: {exc}") from None
    try:
        with torch.no_grad():
            model(splits.train.x[:2])
    except Exception as exc:  # a model that cannot take this dataset's inputs
        raise SpecError(f"workload.model: {spec.workload.model!r} fails on {info.name} inputs of shape "
                        f"{tuple(splits.train.x.shape[1:])}: {exc}") from None
    return workload


def optimizer_kwargs(config: Config) -> dict[str, Any]:
    """The config's hyperparameters as keyword arguments of ``initopt.optim``'s class."""
    hyper = dict(config.hyper)
    if "betas" in hyper:
        hyper["betas"] = tuple(hyper["betas"])
    return hyper
