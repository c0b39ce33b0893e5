"""Study specs: parse (TOML, YAML or a dict), validate before any training, expand the grid.

A spec names a workload (dataset, its options in ``[workload.data]``, model), training settings and
a grid of init schemes x optimizers (each with lists of hyperparameters) x seeds. Every configuration
of the grid gets a stable id: a hash of its canonical contents (workload, training settings, init,
optimizer with all hyperparameters filled with their defaults, seed), independent of the engine, the
database and the order of the grid.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from initopt._suggest import did_you_mean, is_number, is_whole_number, unknown
from initopt.study.search import Distribution, SearchSettings, parse_distribution, parse_search
from initopt.study.execution import Execution, parse_execution

if TYPE_CHECKING:
    from initopt.optim.schedules import Schedule

TOP_LEVEL = ("name", "description", "workload", "train", "grid", "search", "execution")
TRAIN_KEYS = ("epochs", "batch_size", "loss", "metric", "validation", "rank_by", "threads", "no_decay")
# Which parameters weight decay leaves alone (train.no_decay), as initopt.optim.param_groups does: none (every
# parameter decays; studies written before the field), biases and norms (the default, what the README
# teaches), or embeddings too.
NO_DECAY_RULES = {(): "every parameter decays", ("bias", "norm"): "biases and norm weights do not decay",
                  ("bias", "embedding", "norm"): "biases, norm weights and embeddings do not decay"}
DEFAULT_NO_DECAY = ("bias", "norm")
# How a configuration's validation score is read from its epochs: the last epoch's, or the best
# epoch's (early stopping's choice; the test score is then the one of that same epoch).
RANK_BY = ("final", "best")
GRID_KEYS = ("init", "optimizer", "seeds", "width", "depth", "parametrization")
#: Grid axes that change the model, not the optimizer: each configuration's hyperparameters hold their
#: values (so they are in its id, its label and the export) and the optimizer never sees them.
MODEL_AXES = ("width", "depth", "parametrization")

# Every hyperparameter an optimizer family takes in a study, with PyTorch's default.
OPTIMIZER_DEFAULTS: dict[str, dict[str, Any]] = {
    "sgd": {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    "adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False},
    "adamw": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2, "amsgrad": False, "decay": "coupled"},
    # lion-pytorch's defaults; the paper: an lr 3-10x smaller and a weight decay 3-10x larger than AdamW's
    "lion": {"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0, "decay": "coupled"},
    # torch.optim.Muon's, for the hidden matrices; the other parameters with AdamW at the same lr and weight
    # decay (initopt.optim.muon_param_groups), which "match_rms_adamw" makes the natural choice
    "muon": {"lr": 1e-3, "weight_decay": 0.1, "momentum": 0.95, "nesterov": True, "adjust_lr_fn": "original"},
    # torch.optim.Adafactor's; its eps = (eps1, eps2) with eps1 left at None (the dtype's machine epsilon):
    # a study varies eps2, the floor of the parameter's RMS in the step size
    "adafactor": {"lr": 1e-2, "beta2_decay": -0.8, "eps2": 1e-3, "d": 1.0, "weight_decay": 0.0},
    # schedulefree.AdamWScheduleFree's; it takes no learning-rate schedule (warmup_steps is its own warmup)
    "schedule_free_adamw": {"lr": 0.0025, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "warmup_steps": 0,
                            "r": 0.0, "weight_lr_power": 2.0},
}
#: Optimizers that take no ``schedule`` but a constant one (their own warmup instead), with the reason.
UNSCHEDULED = {"schedule_free_adamw": "schedule-free AdamW replaces the schedule by its average of the iterates; "
                                      "warm it up with warmup_steps"}
#: The learning-rate schedule keys every optimizer table takes (initopt.optim.schedules): the schedule's
#: name and its warmup as a fraction of all the steps. A configuration's hyperparameters hold them only
#: where they change something (not at "constant"; no warmup for a schedule without one), so a study
#: without schedules keeps the ids it had before they existed.
SCHEDULE_HYPER = ("schedule", "warmup")
BOOL_HYPER = ("nesterov", "amsgrad")
CHOICE_HYPER = {"decay": ("coupled", "independent"), "adjust_lr_fn": ("original", "match_rms_adamw")}


class SpecError(ValueError):
    """A spec problem; the message starts with the field it is about."""


@dataclass(frozen=True)
class Workload:
    """The dataset and model every configuration shares.

    ``options``: the model's (``[workload]``'s other keys). ``data``: the dataset's options
    (``[workload.data]``), every option the dataset takes with the defaults filled in, so an omitted
    option and its default name the same configurations; empty for a dataset that takes none, which
    keeps the canonical dict (and every id) of such a workload as it was before datasets had options.
    ``folder``: the spec file's folder, which the spec's relative paths (data files, the validation
    file, a factory's package) are read against; ``None`` (a spec given as a dict): the working
    directory. Not part of ``to_dict``, so no id depends on where the spec lies or the study ran.
    """

    dataset: str
    model: str = "mlp"
    options: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    folder: Path | None = field(default=None, compare=False)
    base_width: int | None = None  # muP's base width (where it equals SP); None: no muP in the study

    def to_dict(self) -> dict[str, Any]:
        out = {"dataset": self.dataset, "model": self.model, **dict(self.options)}
        if self.data:
            out["data"] = dict(self.data)
        if self.base_width is not None:
            out["base_width"] = self.base_width
        return out

    def id_dict(self) -> dict[str, Any]:
        """What the ids hash: ``to_dict``, with a user factory's whole-number ``hidden`` as the list
        initopt made of it before factories got their options as written (``48`` -> ``[48]``), so
        that the databases of those studies keep their ids."""
        out = self.to_dict()
        if ":" in self.model and is_whole_number(out.get("hidden")):
            out["hidden"] = [out["hidden"]]
        return out


@dataclass(frozen=True)
class TrainSettings:
    """``validation``: the share of the training rows held out to select on (``initopt.data.validation``),
    0 for none (the test split selects: databases written before validation splits), a file, or
    ``None`` for the default (``DEFAULT_FRACTION``). ``rank_by``: ``final`` or ``best`` epoch."""

    epochs: int = 10
    batch_size: int = 32
    loss: str | None = None  # None: the dataset's default
    metric: str | None = None
    validation: float | str | None = None
    rank_by: str = "final"
    threads: int | str | None = None  # torch's CPU threads: a number, "auto", or None (the command's default)
    no_decay: tuple[str, ...] | None = None  # a key of NO_DECAY_RULES, or None for the default

    @property
    def no_decay_rule(self) -> tuple[str, ...]:
        """The parameters weight decay leaves alone, the default filled in (``NO_DECAY_RULES``)."""
        return DEFAULT_NO_DECAY if self.no_decay is None else self.no_decay

    @property
    def validation_split(self) -> float | str:
        """The validation setting in force: the default filled in."""
        from initopt.data.validation import DEFAULT_FRACTION

        return DEFAULT_FRACTION if self.validation is None else self.validation

    def to_dict(self) -> dict[str, Any]:
        """What the configurations' ids hash (``rank_by`` and ``threads`` are not: they change no
        configuration). A study
        without a validation split keeps the ids it had before validation splits existed."""
        out = {"epochs": self.epochs, "batch_size": self.batch_size, "loss": self.loss, "metric": self.metric}
        if self.validation_split != 0:
            out["validation"] = self.validation_split
        if self.no_decay_rule:  # every parameter decaying (the rule before the field) keeps the old ids
            out["no_decay"] = list(self.no_decay_rule)
        return out


@dataclass(frozen=True)
class Config:
    """One cell of the grid: an init scheme, an optimizer with its hyperparameters, a seed."""

    id: str
    init: dict[str, Any]  # canonical scheme spec: {"name": ..., **params}
    optimizer: str
    hyper: dict[str, Any]  # every hyperparameter of the family, defaults filled in
    seed: int

    @property
    def init_label(self) -> str:
        """``he_normal``, ``normal(std=0.01)``: the scheme with the parameters that differ from its defaults."""
        return init_label(self.init)

    @property
    def optimizer_hyper(self) -> dict[str, Any]:
        """The hyperparameters the optimizer takes: ``hyper`` without the model's axes (``MODEL_AXES``)."""
        return {k: v for k, v in self.hyper.items() if k not in MODEL_AXES}

    @property
    def model_axes(self) -> dict[str, Any]:
        """The configuration's width, depth and parametrization where the grid sets them."""
        return {k: self.hyper[k] for k in MODEL_AXES if k in self.hyper}

    @property
    def lr(self) -> float:
        return self.hyper["lr"]

    @property
    def weight_decay(self) -> float:
        return self.hyper["weight_decay"]

    @property
    def schedule(self) -> Schedule | None:
        """The learning-rate schedule, or None for a constant lr."""
        from initopt.optim.schedules import schedule_of

        return schedule_of(self.hyper)


def _without_idle_schedule_keys(hyper: dict[str, Any]) -> dict[str, Any]:
    """``hyper`` without a constant schedule, and without a warmup for a schedule that has none."""
    from initopt.optim.schedules import PARAMETERS

    name = hyper.get("schedule", "constant")
    if name == "constant":
        return {k: v for k, v in hyper.items() if k not in SCHEDULE_HYPER}
    if "warmup_fraction" not in PARAMETERS[name]:
        return {k: v for k, v in hyper.items() if k != "warmup"}
    return hyper


@dataclass(frozen=True)
class StudySpec:
    name: str
    workload: Workload
    train: TrainSettings
    inits: tuple[dict[str, Any], ...]
    optimizers: tuple[dict[str, Any], ...]  # each {"name": ..., hyper: list of values}
    seeds: tuple[int, ...]
    description: str = ""
    search: SearchSettings = field(default_factory=SearchSettings)
    # where it runs ([execution]): no part of what it trains, so not in to_dict
    execution: Execution = field(default_factory=Execution, compare=False)
    # the grid's model axes ([grid] width, depth, parametrization): (name, values) pairs, in MODEL_AXES order
    axes: tuple[tuple[str, tuple], ...] = ()

    def workload_key(self) -> str:
        """A hash of what every configuration shares; a study name keeps one workload."""
        return _digest({"workload": self.workload.id_dict(), "train": self.train.to_dict()})

    def configs(self) -> list[Config]:
        """The grid, expanded: init x optimizer x hyperparameter combinations x seeds.

        A pure function of the spec (no data is read). An id hashes the loss and the metric: a spec
        that leaves them to the dataset's task is resolved first by ``initopt.study.resolved(spec)``
        (``prepare``, which loads the data), so that an omitted loss and the explicit default name the
        same configurations, with the ids a study's database holds."""
        if self.train.loss is None or self.train.metric is None:
            missing = "train.loss" if self.train.loss is None else "train.metric"
            raise ValueError(f"{missing} is left to the dataset's task: resolve the spec first "
                             "(initopt.study.resolved(spec) reads the data), or name it in the spec")
        if self.search.sampling == "tpe":
            raise ValueError("a tpe study's configurations are asked of its sampler bundle by bundle "
                             "(initopt.study.adaptive), not expanded up front")
        out: list[Config] = []
        seen: set[str] = set()
        for init, name, values in self.settings():
            hyper = full_hyper(name, values)
            for model in self.model_settings():
                for seed in self.seeds:
                    config = self.config(init, name, {**hyper, **model}, seed)
                    if config.id not in seen:  # two optimizer tables (or two draws) may name the same configuration
                        seen.add(config.id)
                        out.append(config)
        return out

    def model_settings(self) -> list[dict[str, Any]]:
        """Every combination of the grid's model axes (one empty one without them)."""
        names = [name for name, _ in self.axes]
        return [dict(zip(names, values)) for values in itertools.product(*(v for _, v in self.axes))]

    def config(self, init: Mapping[str, Any], name: str, hyper: Mapping[str, Any], seed: int) -> Config:
        """One configuration, with its id: the hash of everything it is made of."""
        shared = {"workload": self.workload.id_dict(), "train": self.train.to_dict()}
        content = {**shared, "init": dict(init), "optimizer": name, "hyper": dict(hyper), "seed": seed}
        return Config(_digest(content), dict(init), name, dict(hyper), seed)

    def settings(self):
        """``(init, optimizer, {hyperparameter: value})`` of every setting the study trains (a setting:
        a configuration without its seed): the grid's combinations in order, or the sampler's draws
        (``[search]``; a pure function of the spec)."""
        if self.search.sampling == "grid":
            for init in self.inits:
                for grid in self.optimizers:
                    keys = hyper_keys(grid)
                    for values in itertools.product(*(grid[k] for k in keys)):
                        yield init, grid["name"], dict(zip(keys, values))
            return
        from initopt.study.search import dimensions, pick, uniforms

        n_settings = max(1, math.ceil(self.search.n_configs(self.train.epochs) / len(self.seeds)))
        points = uniforms(self.search.sampling, n_settings, dimensions(self.optimizers, hyper_keys), self.search.seed)
        for u in points:
            init, grid, values = pick(u, self.inits, self.optimizers, hyper_keys)
            yield init, grid["name"], values

    def to_dict(self) -> dict[str, Any]:
        optimizers = [{k: list(v) if isinstance(v, list) else v.to_dict() if isinstance(v, Distribution) else v
                       for k, v in o.items()} for o in self.optimizers]
        return {
            "name": self.name,
            "description": self.description,
            "workload": self.workload.to_dict(),
            "train": {**self.train.to_dict(), "validation": self.train.validation_split, "rank_by": self.train.rank_by,
                      "no_decay": list(self.train.no_decay_rule),
                      **({"threads": self.train.threads} if self.train.threads is not None else {})},
            "grid": {"init": [dict(i) for i in self.inits], "optimizer": optimizers, "seeds": list(self.seeds),
                     **{name: list(values) for name, values in self.axes}},
            # a grid study's dict stays what it was before searches existed
            **({"search": self.search.to_dict()} if self.search != SearchSettings() else {}),
        }


def full_hyper(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Optimizer ``name``'s hyperparameters: ``values`` over its defaults, canonical (what an id hashes)."""
    hyper = _without_idle_schedule_keys({**OPTIMIZER_DEFAULTS[name], **values})
    return {k: _canonical_value(v) for k, v in hyper.items()}


def hyper_keys(grid: Mapping[str, Any]) -> list[str]:
    """The hyperparameters an optimizer table sets (lists or distributions), in a fixed order."""
    return [k for k in (*OPTIMIZER_DEFAULTS[grid["name"]], *SCHEDULE_HYPER) if k in grid]


def init_label(spec: Mapping[str, Any]) -> str:
    """A short readable name for a canonical scheme spec (parameters at their defaults left out)."""
    from initopt import init

    defaults = init.get(spec["name"]).spec()
    shown = {k: v for k, v in spec.items() if k != "name" and defaults.get(k) != v}
    if spec["name"] == "normal" and "std" not in shown:
        shown["std"] = spec["std"]  # "normal(std=1)": the standard normal of the texts, said plainly
    params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items())
    return f"{spec['name']}({params})" if params else spec["name"]


def _canonical_value(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_canonical_value(v) for v in value]
    return float(value)


def _digest(content: Mapping[str, Any]) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- parsing


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a ``.toml``, ``.yaml`` or ``.yml`` spec file."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: spec file not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise SpecError(f"{path}: reading YAML needs PyYAML (pip install pyyaml), or write the spec as TOML") from None
        try:
            raw = yaml.load(text, Loader=_yaml_loader(yaml))
        except yaml.YAMLError as exc:
            raise SpecError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    elif path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"{path}: not valid TOML: {exc}") from None
    else:
        raise SpecError(f"{path}: a spec is a .toml, .yaml or .yml file")
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: the spec must be a table of fields (name, workload, train, grid)")
    return raw


def _yaml_loader(yaml):
    """PyYAML's safe loader, reading ``1e-3`` as a number (YAML 1.1 wants ``1.0e-3``; TOML and users don't)."""
    import re

    class Loader(yaml.SafeLoader):
        pass

    float_pattern = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)$")
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", float_pattern, list("-+0123456789"))
    return Loader


def parse_spec(raw: Mapping[str, Any], origin: str = "spec") -> StudySpec:
    """Check the fields and types of a spec mapping (no data loaded, no model built)."""
    where = f"{origin}: " if origin else ""

    def fail(field_name: str, message: str) -> SpecError:
        return SpecError(f"{where}{field_name}: {message}")

    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}the spec must be a mapping, got {type(raw).__name__}")
    _no_unknown(raw, TOP_LEVEL, "", fail)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("name", "a non-empty string is required")
    workload = _parse_workload(raw.get("workload"), fail)
    train = _parse_train(raw.get("train", {}), fail)
    grid = raw.get("grid")
    if not isinstance(grid, Mapping):
        raise fail("grid", "a table with init, optimizer and seeds is required")
    _no_unknown(grid, GRID_KEYS, "grid", fail)
    inits = _parse_inits(grid.get("init"), fail)
    optimizers = _parse_optimizers(grid.get("optimizer"), fail)
    seeds = _parse_seeds(grid.get("seeds", [0]), fail)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise fail("description", f"expected a string, got {description!r}")
    search = parse_search(raw.get("search"), fail)
    execution = parse_execution(raw.get("execution"), fail)
    axes = _parse_model_axes(grid, workload, fail)
    if axes and search.sampling == "tpe":
        raise fail("grid." + axes[0][0], "model axes (width, depth, parametrization) take the grid, random or "
                                          "sobol strategies: each sampled setting runs at every width")
    if search.sampling == "grid":
        for i, grid in enumerate(optimizers):
            sampled = [k for k, v in grid.items() if isinstance(v, Distribution)]
            if sampled:
                raise fail(f"grid.optimizer[{i}].{sampled[0]}", "a distribution is sampled: set [search] strategy to "
                                                               "random, sobol or tpe (or halving with one of them as its sampler)")
    return StudySpec(name.strip(), workload, train, inits, optimizers, seeds, description, search, execution, axes)


def _parse_model_axes(grid: Mapping[str, Any], workload: Workload, fail) -> tuple[tuple[str, tuple], ...]:
    """``[grid] width``, ``depth`` (whole numbers >= 1) and ``parametrization`` ("sp", "mup"; muP needs
    ``workload.base_width``), as ``(name, values)`` pairs."""
    from initopt.init.parametrize import PARAMETRIZATIONS

    axes = []
    for name in MODEL_AXES:
        if name not in grid:
            continue
        values = grid[name]
        if not isinstance(values, list) or not values:
            raise fail(f"grid.{name}", f"expected a non-empty list, got {values!r}")
        for value in values:
            if name == "parametrization":
                if value not in PARAMETRIZATIONS:
                    raise fail(f"grid.{name}", f"expected one of {', '.join(PARAMETRIZATIONS)}, got {value!r}")
            elif not is_whole_number(value) or value < 1:
                raise fail(f"grid.{name}", f"expected whole numbers >= 1, got {value!r}")
        if len(set(values)) != len(values):
            raise fail(f"grid.{name}", f"a value is listed twice: {values!r}")
        axes.append((name, tuple(values)))
    named = dict(axes)
    if "mup" in named.get("parametrization", ()) and workload.base_width is None:
        raise fail("workload.base_width", "muP needs the width at which it equals SP: set workload.base_width")
    return tuple(axes)


def _no_unknown(table: Mapping[str, Any], allowed, prefix: str, fail) -> None:
    for key in table:
        if key not in allowed:
            label = f"{prefix}.{key}" if prefix else str(key)
            raise fail(label, f"unknown field{did_you_mean(str(key), allowed)} valid: {', '.join(allowed)}")


def _parse_workload(table: Any, fail) -> Workload:
    if not isinstance(table, Mapping):
        raise fail("workload", "a table with at least 'dataset' is required")
    dataset = table.get("dataset")
    if not isinstance(dataset, str) or not dataset.strip():
        raise fail("workload.dataset", "a dataset name is required (e.g. 'seed-binary', 'digits', 'csv:PATH:TARGET')")
    model = table.get("model", "mlp")
    if not isinstance(model, str) or not model.strip():
        raise fail("workload.model", f"expected a model name or 'package.module:function', got {model!r}")
    from initopt.models.options import ModelOptionError, is_factory, shared_options

    options = {k: v for k, v in table.items() if k not in ("dataset", "model", "data", "base_width")}
    data = _parse_data(dataset.strip(), table.get("data", {}), fail)
    base_width = table.get("base_width")
    if base_width is not None and (not is_whole_number(base_width) or base_width < 1):
        raise fail("workload.base_width", f"expected a whole number >= 1, got {base_width!r}")
    if not is_factory(model):  # a user factory gets its options exactly as written (hidden = 48 stays 48)
        try:
            options = shared_options(options)
        except ModelOptionError as exc:
            raise fail(f"workload.{exc.option}", str(exc)) from None
    return Workload(dataset.strip(), model.strip(), options, data, base_width=base_width)


def _parse_data(dataset: str, table: Any, fail) -> dict[str, Any]:
    """``[workload.data]``: the dataset's options, checked against what it takes, defaults filled in.

    Reads only the dataset's name (no file, no data): an unknown name is left for ``prepare`` to
    report (with the closest valid one), and then any given option passes through unchecked."""
    from initopt.data import OptionError, options_of
    from initopt.data.options import resolve_options

    if not isinstance(table, Mapping):
        raise fail("workload.data", f"expected a table of dataset options (e.g. p = 97), got {table!r}")
    try:
        declared = options_of(dataset)
    except ValueError:
        return dict(table)
    try:
        return resolve_options(dataset, declared, table)
    except OptionError as exc:
        raise fail(f"workload.data.{exc.option}" if exc.option else "workload.data", str(exc)) from None


def _parse_train(table: Any, fail) -> TrainSettings:
    if not isinstance(table, Mapping):
        raise fail("train", "expected a table (epochs, batch_size, loss, metric)")
    _no_unknown(table, TRAIN_KEYS, "train", fail)
    epochs = table.get("epochs", 10)
    if not is_whole_number(epochs) or epochs < 1:
        raise fail("train.epochs", f"expected a whole number >= 1, got {epochs!r}")
    batch_size = table.get("batch_size", 32)
    if not is_whole_number(batch_size) or batch_size < 1:
        raise fail("train.batch_size", f"expected a whole number >= 1, got {batch_size!r}")
    loss, metric = table.get("loss"), table.get("metric")
    for key, value in (("loss", loss), ("metric", metric)):
        if value is not None and not isinstance(value, str):
            raise fail(f"train.{key}", f"expected a name, got {value!r}")
    validation = table.get("validation")
    if validation is not None:
        from initopt.data.validation import check_fraction

        try:
            validation = check_fraction(validation)
        except ValueError as exc:
            raise fail("train.validation", str(exc)) from None
    rank_by = table.get("rank_by", "final")
    if rank_by not in RANK_BY:
        raise fail("train.rank_by", f"expected one of {', '.join(RANK_BY)}, got {rank_by!r}")
    threads = table.get("threads")
    if threads is not None:
        from initopt.threads import parse_threads

        try:
            threads = parse_threads(threads, "train.threads")
        except ValueError:
            raise fail("train.threads", f"expected a whole number >= 1 or 'auto', got {threads!r}") from None
    no_decay = table.get("no_decay")
    if no_decay is not None:
        if not isinstance(no_decay, (list, tuple)) or not all(isinstance(v, str) for v in no_decay):
            raise fail("train.no_decay", f"expected a list of names, got {no_decay!r}")
        no_decay = tuple(sorted({v.lower() for v in no_decay}))
        if no_decay not in NO_DECAY_RULES:
            raise fail("train.no_decay", "expected [] (every parameter decays), [\"bias\", \"norm\"] or "
                       f"[\"bias\", \"norm\", \"embedding\"], got {list(table.get('no_decay'))!r}")
    return TrainSettings(epochs, batch_size, loss, metric, validation, rank_by, threads, no_decay)


def _parse_inits(entries: Any, fail) -> tuple[dict[str, Any], ...]:
    from initopt import init as inits

    if isinstance(entries, (str, Mapping)):
        entries = [entries]
    if not isinstance(entries, list) or not entries:
        raise fail("grid.init", "a non-empty list of schemes is required, e.g. [\"he_normal\", {name = \"gaussian\", std = 0.01}]")
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, (str, Mapping)):
            raise fail(f"grid.init[{i}]", f"expected a scheme name or a table with 'name', got {entry!r}")
        try:
            scheme = inits.get(dict(entry) if isinstance(entry, Mapping) else entry)
        except (ValueError, TypeError) as exc:
            raise fail(f"grid.init[{i}]", str(exc)) from None
        spec = scheme.spec()
        if spec not in out:
            out.append(spec)
    return tuple(out)


def _parse_optimizers(entries: Any, fail) -> tuple[dict[str, Any], ...]:
    if isinstance(entries, Mapping):
        entries = [entries]
    if not isinstance(entries, list) or not entries:
        raise fail("grid.optimizer", f"at least one [[grid.optimizer]] table with a name ({', '.join(OPTIMIZER_DEFAULTS)}) is required")
    out = []
    for i, entry in enumerate(entries):
        label = f"grid.optimizer[{i}]"
        if not isinstance(entry, Mapping):
            raise fail(label, f"expected a table with 'name' and hyperparameter lists, got {entry!r}")
        name = str(entry.get("name", "")).strip().lower()
        if name not in OPTIMIZER_DEFAULTS:
            raise fail(f"{label}.name", unknown("optimizer", entry.get("name"), OPTIMIZER_DEFAULTS))
        allowed = (*OPTIMIZER_DEFAULTS[name], *SCHEDULE_HYPER)
        grid: dict[str, Any] = {"name": name}
        for key, value in entry.items():
            if key == "name":
                continue
            if key not in allowed:
                raise fail(f"{label}.{key}", f"{name} does not take this hyperparameter{did_you_mean(key, allowed)} "
                                             f"valid: {', '.join(allowed)}")
            grid[key] = _parse_values(key, value, f"{label}.{key}", fail)
        _check_unscheduled(name, grid, label, fail)
        if name == "schedule_free_adamw" and any(beta1 == 0 for beta1, _ in _possible(grid, "betas", [])):
            raise fail(f"{label}.betas", "schedule-free AdamW needs beta1 > 0 (its average x is (y - (1 - beta1) z) / beta1)")
        if name == "sgd" and True in _possible(grid, "nesterov", []):
            # PyTorch's rule, checked on every combination the grid will make
            if 0 in _possible(grid, "momentum", [0.0]) or any(d != 0 for d in _possible(grid, "dampening", [0.0])):
                raise fail(f"{label}.nesterov", "nesterov needs momentum > 0 and dampening 0 in every combination; "
                                                "put nesterov = true in its own [[grid.optimizer]] table")
        out.append(grid)
    return tuple(out)


def _possible(grid: Mapping[str, Any], key: str, default: list) -> list:
    """The values hyperparameter ``key`` of an optimizer table can take: its list, a choice's values,
    a range's two ends (``default`` where the table leaves it out)."""
    space = grid.get(key)
    if space is None:
        return default
    if isinstance(space, Distribution):
        return list(space.values) if space.kind == "choice" else [space.low, space.high]
    return list(space)


def _check_unscheduled(name: str, grid: dict[str, Any], label: str, fail) -> None:
    """An optimizer of ``UNSCHEDULED`` takes ``schedule = "constant"`` (the same configurations as none) and
    no ``warmup``."""
    if name not in UNSCHEDULED:
        return
    if "warmup" in grid:
        raise fail(f"{label}.warmup", f"{name} takes no schedule: {UNSCHEDULED[name]}")
    scheduled = [s for s in _possible(grid, "schedule", []) if s != "constant"]
    if scheduled:
        raise fail(f"{label}.schedule", f"{name} takes no schedule ({scheduled[0]!r}): {UNSCHEDULED[name]}")


def _parse_values(key: str, value: Any, label: str, fail) -> list[Any] | Distribution:
    """A hyperparameter's list of values (a single value is a list of one), or a distribution to sample."""
    if isinstance(value, Mapping):
        if key in ("betas", "schedule", *BOOL_HYPER, *CHOICE_HYPER) and str(value.get("distribution")) != "choice":
            raise fail(label, f"{key} takes a list of values or a choice distribution")
        if key == "betas":
            return parse_distribution(value, label, fail, lambda v: _parse_values(key, v, label, fail))
        return parse_distribution(value, label, fail, lambda v: _check_value(key, v, label, fail))
    if key == "betas":
        pairs = value if isinstance(value, list) and value and isinstance(value[0], list) else [value]
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2 and all(is_number(b) and 0 <= b < 1 for b in pair)):
                raise fail(label, f"expected a pair [beta1, beta2] in [0, 1) or a list of pairs, got {value!r}")
        return list(dict.fromkeys(tuple(float(b) for b in pair) for pair in pairs))
    values = value if isinstance(value, list) else [value]
    if not values:
        raise fail(label, "an empty list leaves nothing to try")
    if key == "schedule":
        return list(dict.fromkeys(_schedule_name(v, label, fail) for v in values))
    for v in values:
        _check_value(key, v, label, fail)
    return list(dict.fromkeys(values))


def _check_value(key: str, v: Any, label: str, fail) -> None:
    """One value of hyperparameter ``key``, as the optimizer takes it."""
    if key == "schedule":
        _schedule_name(v, label, fail)
    elif key in BOOL_HYPER:
        if not isinstance(v, bool):
            raise fail(label, f"expected true or false, got {v!r}")
    elif key in CHOICE_HYPER:
        if v not in CHOICE_HYPER[key]:
            raise fail(label, f"expected one of {', '.join(CHOICE_HYPER[key])}, got {v!r}")
    elif not is_number(v) or not math.isfinite(v):
        raise fail(label, f"expected a finite number or a list of them, got {v!r}")
    elif key == "beta2_decay":
        if v > 0:
            raise fail(label, f"must be <= 0 (1 - beta2 at step t is t ** beta2_decay), got {v!r}")
    elif v < 0:
        raise fail(label, f"must be >= 0, got {v!r}")
    elif key == "d" and v < 1:
        raise fail(label, f"the update clipping threshold d must be >= 1, got {v!r}")
    elif key == "warmup_steps" and v != int(v):
        raise fail(label, f"expected a whole number of steps, got {v!r}")
    elif key == "momentum" and v >= 1:
        raise fail(label, f"momentum must be < 1, got {v!r}")
    elif key == "warmup" and v >= 1:
        raise fail(label, f"the warmup is a fraction of all the steps, in [0, 1), got {v!r}")


def _schedule_name(value: Any, label: str, fail) -> str:
    """A schedule's name as ``initopt.optim.schedules`` spells it (warmup_cosine -> warmup-cosine)."""
    from initopt.optim.schedules import SCHEDULES, ScheduleError, parse_schedule

    if not isinstance(value, str):
        raise fail(label, f"expected a schedule's name ({', '.join(SCHEDULES)}), got {value!r}")
    try:
        return parse_schedule(value).name if ":" not in value else _no_settings(value, label, fail)
    except ScheduleError as exc:
        raise fail(label, str(exc)) from None


def _no_settings(value: str, label: str, fail) -> str:
    from initopt.optim.schedules import SCHEDULES

    raise fail(label, f"a study's schedule is a name ({', '.join(SCHEDULES)}) with its warmup in 'warmup'; "
                      f"got {value!r}")


def _parse_seeds(seeds: Any, fail) -> tuple[int, ...]:
    if is_whole_number(seeds):
        seeds = [seeds]
    if not isinstance(seeds, list) or not seeds:
        raise fail("grid.seeds", f"expected a non-empty list of whole numbers, got {seeds!r}")
    for s in seeds:
        if not is_whole_number(s) or s < 0:
            raise fail("grid.seeds", f"seeds are whole numbers >= 0, got {s!r}")
    return tuple(dict.fromkeys(seeds))


def load_spec(source: str | Path | Mapping[str, Any]) -> StudySpec:
    """Parse a spec from a file path or a dict.

    A file's relative paths (data files, a factory's package) are read against the file's folder,
    so it runs the same from any working directory (``Workload.folder``); a dict's against the
    working directory."""
    if isinstance(source, Mapping):
        return parse_spec(source, origin="spec")
    spec = parse_spec(read_spec_file(source), origin=str(source))
    folder = Path(source).expanduser().resolve().parent
    return replace(spec, workload=replace(spec.workload, folder=folder))
