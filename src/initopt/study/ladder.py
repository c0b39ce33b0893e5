"""Successive halving's decisions, read from the study's store: which configurations of a bundle go on
past a rung (ASHA's rule across the bundles, the seeds of a setting together).

At rung ``r`` every setting (a configuration without its seed) that has reached ``r`` so far, in this
bundle or an earlier one, has a score: its seeds' mean of the study's objective there (the validation
metric of epoch ``r``, or the best up to ``r`` where the study ranks by its best epoch; a seed that
diverged makes it non-finite, ranked last). This bundle's settings go on where they are among the best
``floor(n / eta)`` of the ``n`` settings (at least one). A setting whose other seeds were decided at
this rung in an earlier bundle follows that decision. Deterministic given the stored epochs, so a
study killed and run again takes the same decisions.
"""

from __future__ import annotations

import json
import math

from initopt.study.search import promoted
from initopt.study.spec import Config
from initopt.study.store import Status
from initopt.study.summary import LOWER_IS_BETTER


def setting_of(init: str, init_params: dict, optimizer: str, hyper: dict) -> str:
    """A configuration's setting: everything but its seed."""
    return json.dumps([init, init_params, optimizer, hyper], sort_keys=True, default=str)


def config_setting(config: Config) -> str:
    return setting_of(config.init_label, {k: v for k, v in config.init.items() if k != "name"}, config.optimizer,
                      config.hyper)


class Ladder:
    """The decisions of one study's halving (its configurations and epochs read from the store at each)."""

    def __init__(self, store, study: str, eta: int, metric: str, rank_by: str):
        self.store, self.study, self.eta = store, study, eta
        self.lower_is_better = metric in LOWER_IS_BETTER
        self.best = rank_by == "best"

    def keep(self, rung: int, alive: list[Config]) -> set[str]:
        """The ids of ``alive`` (this bundle's configurations still training) that go on past ``rung``."""
        mine = {c.id for c in alive}
        stored = self.store.configs(self.study)
        setting = {r.id: setting_of(r.init, r.init_params, r.optimizer, r.hyper) for r in stored}
        rows: dict[str, dict[int, float]] = {}
        for row in self.store.epochs(self.study):
            if row.epoch <= rung and row.config_id in setting:
                value = row.val_metric if row.val_metric is not None else math.nan
                rows.setdefault(row.config_id, {})[row.epoch] = value
        per_setting: dict[str, list[float]] = {}
        for config_id, values in rows.items():
            if any(not math.isfinite(v) for v in values.values()):
                score = math.nan  # diverged on the way: its setting ranks last
            elif rung not in values:
                continue  # has not reached the rung yet
            else:
                score = values[rung] if not self.best else (min if self.lower_is_better else max)(values.values())
            per_setting.setdefault(setting[config_id], []).append(score)
        rung_scores = {s: (sum(v) / len(v) if all(math.isfinite(x) for x in v) else math.nan) for s, v in per_setting.items()}
        earlier = _decided_elsewhere(rung, mine, stored, setting)
        candidates = {setting[i] for i in mine} - set(earlier)
        going_on = promoted(rung_scores, sorted(candidates & set(rung_scores)), self.eta, self.lower_is_better)
        going_on |= {s for s, on in earlier.items() if on}
        return {i for i in mine if setting[i] in going_on}


def _decided_elsewhere(rung: int, mine: set[str], stored, setting: dict[str, str]) -> dict[str, bool]:
    """Settings with a seed outside this bundle already past ``rung`` (True) or pruned at it (False)."""
    out: dict[str, bool] = {}
    for row in stored:
        if row.id in mine:
            continue
        if row.status is Status.PRUNED and row.epochs_run == rung:
            out.setdefault(setting[row.id], False)
        elif row.epochs_run > rung:
            out[setting[row.id]] = True
    return out
