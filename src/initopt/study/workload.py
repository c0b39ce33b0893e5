"""A study's workload made concrete: data loaded, loss and metric resolved, models built per configuration."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from initopt.study.spec import SCHEDULE_HYPER, Config, SpecError, StudySpec
from initopt.workloads import Setup


@dataclass
class PreparedWorkload:
    """A spec (its loss and metric resolved) with its workload set up (``initopt.workloads.Setup``): the
    data's splits, the loss and metric, the probe model and how each configuration's model is built."""

    spec: StudySpec
    setup: Setup = field(repr=False, compare=False)

    @property
    def train(self):
        """The rows trained on (an ``initopt.data`` split)."""
        return self.setup.splits.train

    @property
    def val(self):
        """The validation rows held out of the training data; None: none (selection on test)."""
        return self.setup.splits.val

    @property
    def test(self):
        return self.setup.splits.test

    @property
    def loss(self) -> str:
        return self.setup.loss

    @property
    def metric(self) -> str:
        return self.setup.metric

    @property
    def probabilities(self) -> bool:
        """The loss takes probabilities: built-in models end in a sigmoid."""
        return self.setup.probabilities

    @property
    def probe(self) -> nn.Module:
        return self.setup.probe

    @property
    def selection(self):
        """The split every ranking and choice is made on: validation, or test when none is held out."""
        return self.test if self.val is None else self.val

    @property
    def info(self):
        return self.train.info

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train) / self.spec.train.batch_size)

    @property
    def steps_per_config(self) -> int:
        """Optimizer steps of one configuration over the whole run."""
        return self.spec.train.epochs * self.steps_per_epoch

    def build(self) -> nn.Module:
        """A fresh, uninitialized model of the workload: one call of a user factory, imported from
        the spec's folder (``Workload.folder``) with its options as the spec wrote them."""
        return self.setup.build()

    def probe_model(self) -> nn.Module:
        """The study's one model that no configuration trains, built by ``prepare``, which runs it on two
        examples to try the inputs, the loss and the metric; the runner measures a configuration's
        memory with it. With one model per configuration (``initialized_model``), a study of N
        configurations calls a user factory N + 1 times. Never initialized by a scheme (and its
        BatchNorm statistics have seen two examples): a probe, not a configuration's model."""
        return self.setup.probe

    def decayed_names(self, model: nn.Module) -> dict[str, bool]:
        """Each parameter of ``model`` -> whether the study's weight decay takes it (``train.no_decay``,
        by ``initopt.optim.param_groups``'s rule)."""
        from initopt.optim.groups import decayed_names

        rule = self._param_groups_rule()
        if rule is None:
            return {name: True for name, p in model.named_parameters() if p.requires_grad}
        return decayed_names(model, **rule)

    def optimizer(self, model: nn.Module, config: Config):
        """The configuration's ``initopt.optim`` optimizer over ``model``: one param group, or with
        ``train.no_decay`` a second one without weight decay (``param_groups``)."""
        from initopt import optim

        kwargs = optimizer_kwargs(config)
        if config.model_axes.get("parametrization") == "mup":  # per-layer lr and decay multipliers
            return optim.get(config.optimizer, self.mup_groups(model, config), **kwargs)
        rule = self._param_groups_rule()
        if config.optimizer == "muon":  # hidden matrices with Muon, the rest with its AdamW
            return optim.Muon(optim.muon_param_groups(model, rule["no_decay"] if rule else ()), **kwargs)
        params = model.parameters() if rule is None else optim.param_groups(model, kwargs.get("weight_decay", 0.0), **rule)
        return optim.get(config.optimizer, params, **kwargs)

    def muon_matrices(self, model: nn.Module) -> dict[str, bool]:
        """Each parameter of ``model`` -> whether Muon steps it (a hidden matrix) rather than its AdamW:
        the rule of ``initopt.optim.muon_param_groups``."""
        from initopt import optim

        muon = {id(p) for g in optim.muon_param_groups(model) if g["use_muon"] for p in g["params"]}
        return {name: id(p) in muon for name, p in model.named_parameters()}

    def _param_groups_rule(self) -> dict[str, Any] | None:
        """``train.no_decay`` as ``param_groups``' keyword arguments (``no_decay``, ``embeddings_decay``),
        or None where every parameter decays."""
        rule = self.spec.train.no_decay_rule
        if not rule:
            return None
        return {"no_decay": [n for n in rule if n != "embedding"], "embeddings_decay": "embedding" not in rule}

    def build_for(self, axes: dict[str, Any]) -> nn.Module:
        """A fresh model at a configuration's ``width`` and ``depth`` (``Config.model_axes``; the
        workload's own without them)."""
        from initopt.models.width import with_depth, with_width

        options = dict(self.setup.options)
        if "width" in axes:
            options = with_width(self.spec.workload.model, options, axes["width"])
        if "depth" in axes:
            options = with_depth(self.spec.workload.model, options, axes["depth"])
        return replace(self.setup, options=options).build() if options != self.setup.options else self.build()

    def initialized_model(self, config: Config) -> nn.Module:
        """The model of ``config``: built (at its width and depth), its weights drawn with the config's
        scheme and seed, then parametrized (its ``parametrization``: muP rescales by role)."""
        from initopt import init

        model = self.build_for(config.model_axes)
        # a data-dependent scheme (lsuv) draws its batch of the training split from the config's seed
        init.initialize(model, init.get(config.init), "zeros", data=self.train.x, seed=config.seed)
        if config.model_axes.get("parametrization", "sp") != "sp":
            init.parametrize(model, config.model_axes["parametrization"], **self._parametrize_kwargs(model, config))
        return model

    def _parametrize_kwargs(self, model: nn.Module, config: Config) -> dict[str, Any]:
        return {"base_width": self.spec.workload.base_width, "width": config.model_axes.get("width"),
                "optimizer": config.optimizer, "decay": "independent", "scheme": config.init}

    def mup_scales(self, model: nn.Module, config: Config) -> dict[str, tuple[float, float]]:
        """Each parameter of ``config``'s muP model -> its ``(lr_scale, weight_decay_scale)`` (the bundled
        optimizer's per-parameter multipliers; ``train.no_decay`` is the optimizer's decay flags)."""
        from initopt.init.parametrize import rules

        return {r.name: (r.lr_scale, r.weight_decay_scale)
                for r in rules(model, "mup", **self._parametrize_kwargs(model, config))}

    def mup_groups(self, model: nn.Module, config: Config) -> list[dict[str, Any]]:
        """muP's param groups of ``config``'s parametrized model (``rules`` of the module
        ``initopt.init.parametrize``), with the parameters ``train.no_decay`` names given no weight decay."""
        from initopt.init.parametrize import param_groups, rules

        decayed = self.decayed_names(model)
        plan = [rule if decayed.get(rule.name, True) else replace(rule, weight_decay_scale=0.0)
                for rule in rules(model, "mup", **self._parametrize_kwargs(model, config))]
        return param_groups(model, plan)


def prepare(spec: StudySpec) -> PreparedWorkload:
    """Load the data, build one model, try the loss and metric on it: every workload error before any
    training (``initopt.workloads.set_up``, with the spec's field names).

    ``workload.spec`` is ``spec`` with the loss and metric filled in from the dataset's task and their
    names made canonical, so that an omitted loss, ``"BCE"`` and ``"bce"`` name the same configurations.
    """
    from initopt.data.paths import resolve_file
    from initopt.workloads import WorkloadError, set_up

    folder = spec.workload.folder  # relative paths are the spec's: read against its folder
    validation = spec.train.validation_split
    if isinstance(validation, str) and validation != "npz":
        validation = resolve_file(validation, folder)
    try:
        setup = set_up(spec.workload.dataset, spec.workload.model, data_options=spec.workload.data,
                       model_options=spec.workload.options, loss=spec.train.loss, metric=spec.train.metric,
                       validation=validation, folder=folder, where=spec_field)
    except WorkloadError as exc:
        raise SpecError(str(exc)) from None
    # Resolved, canonical names make an omitted loss and the explicit default name the same configurations.
    spec = replace(spec, train=replace(spec.train, loss=setup.loss, metric=setup.metric))
    return PreparedWorkload(spec, setup)


def spec_field(name: str) -> str:
    """A field of ``initopt.workloads.set_up`` as a spec names it."""
    if name.startswith("option."):
        return f"workload.{name[len('option.'):]}"
    if name.startswith("data."):
        return f"workload.{name}"
    return {"dataset": "workload.dataset", "model": "workload.model", "validation": "train.validation",
            "loss": "train.loss", "metric": "train.metric"}[name]


def optimizer_kwargs(config: Config) -> dict[str, Any]:
    """The config's hyperparameters as keyword arguments of ``initopt.optim``'s class: ``betas`` a tuple,
    Adafactor's ``eps2`` as ``eps=(None, eps2)`` (eps1 the dtype's epsilon), ``warmup_steps`` a whole number."""
    hyper = {k: v for k, v in config.optimizer_hyper.items() if k not in SCHEDULE_HYPER}  # the schedule is fit's
    if "betas" in hyper:
        hyper["betas"] = tuple(hyper["betas"])
    if "eps2" in hyper:
        hyper["eps"] = (None, hyper.pop("eps2"))
    if "warmup_steps" in hyper:
        hyper["warmup_steps"] = int(hyper["warmup_steps"])
    return hyper
