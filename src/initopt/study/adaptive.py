"""The rounds of a study: which configurations it trains next, and what it learns from their results.

A grid or a random, Sobol or halving-over-them study is one round: every configuration is known from
the spec. A ``tpe`` study (and halving over ``tpe``) asks Optuna's TPE sampler (Bergstra et al.,
NeurIPS 2011; ``optuna.samplers.TPESampler``, seeded, with the constant liar for the settings of a
round that are asked together) for a round's worth of settings at a time, trains them as bundles,
and tells it each setting's mean over its seeds (a setting with a diverged or failed seed: failed; one
pruned by halving: pruned, after reporting its value at the rung where it stopped). Run again, the
same asks and tells are replayed against the store, so the sampler proposes what it proposed before
and the finished configurations are not trained again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from initopt.study.search import Distribution
from initopt.study.spec import Config, StudySpec, full_hyper, hyper_keys
from initopt.study.store import Status
from initopt.study.summary import LOWER_IS_BETTER

ROUNDS = 4  # a tpe study asks in at least this many rounds, so that its sampler learns from the first ones


class OneRound:
    """Every configuration of the spec, at once."""

    def __init__(self, spec: StudySpec):
        self.configs = spec.configs()
        self.total = len(self.configs)

    def rounds(self, store) -> Iterator[list[Config]]:
        yield self.configs

    def tell(self, store, configs: list[Config]) -> None:
        pass


class TPERounds:
    """Settings asked of TPE ``per_round`` at a time until the budget is spent (``budget / seeds`` settings)."""

    def __init__(self, spec: StudySpec, per_round: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.spec = spec
        self.n_settings = max(1, math.ceil(spec.search.n_configs(spec.train.epochs) / len(spec.seeds)))
        self.total = self.n_settings * len(spec.seeds)
        self.per_round = max(1, min(per_round, math.ceil(self.n_settings / ROUNDS)))
        direction = "minimize" if spec.train.metric in LOWER_IS_BETTER else "maximize"
        sampler = optuna.samplers.TPESampler(seed=spec.search.seed, constant_liar=True)
        self.study = optuna.create_study(direction=direction, sampler=sampler)
        self._asked: list[tuple[object, list[str]]] = []

    def rounds(self, store) -> Iterator[list[Config]]:
        asked = 0
        while asked < self.n_settings:
            n = min(self.per_round, self.n_settings - asked)
            configs: dict[str, Config] = {}
            self._asked = []
            for _ in range(n):
                trial = self.study.ask()
                init, name, hyper = self._suggest(trial)
                mine = [self.spec.config(init, name, hyper, seed) for seed in self.spec.seeds]
                configs.update({c.id: c for c in mine})
                self._asked.append((trial, [c.id for c in mine]))
            yield list(configs.values())
            asked += n

    def tell(self, store, configs: list[Config]) -> None:
        import optuna

        rows = {r.id: r for r in store.configs(self.spec.name)}
        for trial, ids in self._asked:
            seeds = [rows[i] for i in ids if i in rows]
            if any(r.status in (Status.PENDING, Status.RUNNING) for r in seeds):
                continue  # another process is training it: it stays running for the sampler
            if any(r.status is Status.PRUNED for r in seeds):
                stopped = seeds[0]
                if stopped.val_metric is not None and math.isfinite(stopped.val_metric):
                    trial.report(_mean(seeds), step=stopped.epochs_run)
                self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            elif all(r.status is Status.DONE and r.val_metric is not None and math.isfinite(r.val_metric) for r in seeds):
                self.study.tell(trial, _mean(seeds))
            else:  # diverged or failed on some seed
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def _suggest(self, trial) -> tuple[dict, str, dict]:
        """A setting from ``trial`` (define-by-run: each optimizer table's hyperparameters are its own)."""
        spec = self.spec
        init = spec.inits[trial.suggest_categorical("init", list(range(len(spec.inits))))]
        table = trial.suggest_categorical("optimizer", list(range(len(spec.optimizers))))
        grid = spec.optimizers[table]
        values = {}
        for key in hyper_keys(grid):
            space, label = grid[key], f"{table}.{key}"
            if isinstance(space, Distribution) and space.kind in ("log-uniform", "uniform"):
                values[key] = trial.suggest_float(label, space.low, space.high, log=space.kind == "log-uniform")
            elif isinstance(space, Distribution) and space.kind == "int":
                values[key] = trial.suggest_int(label, int(space.low), int(space.high), log=space.log)
            else:
                choices = list(space.values) if isinstance(space, Distribution) else list(space)
                values[key] = choices[trial.suggest_categorical(label, list(range(len(choices))))]
        return dict(init), grid["name"], full_hyper(grid["name"], values)


def _mean(rows) -> float:
    values = [float(r.val_metric) for r in rows if r.val_metric is not None and math.isfinite(r.val_metric)]
    return sum(values) / len(values) if values else math.nan


def rounds_of(spec: StudySpec, per_round: int):
    """The rounds of ``spec``: one (everything the spec names) or TPE's."""
    return TPERounds(spec, per_round) if spec.search.sampling == "tpe" else OneRound(spec)
