"""Search spaces and strategies: distributions in the spec, sampled studies reproducible from the seed,
successive halving inside bundles (pruned configurations stored as such, the survivors' numbers those
of the whole grid)."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from initopt.study import parse_spec
from initopt.study.ladder import config_setting
from initopt.study.runner import run_study
from initopt.study.search import Distribution, SearchSettings, promoted
from initopt.study.spec import SpecError
from initopt.study.store import SQLiteStore, Status


def _spec(search=None, lr=None, epochs=4, seeds=(0, 1)):
    raw = {
        "name": "search",
        "workload": {"dataset": "seed-binary", "hidden": [8]},
        "train": {"epochs": epochs, "batch_size": 64, "loss": "bce", "metric": "accuracy"},
        "grid": {"init": ["he_normal", "xavier_normal"], "seeds": list(seeds),
                 "optimizer": [{"name": "adamw", "lr": lr if lr is not None else [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3],
                                "weight_decay": [0.0, 0.01]}]},
    }
    if search is not None:
        raw["search"] = search
    return raw


@pytest.mark.parametrize("lr, message", [
    ({"distribution": "log-uniform", "low": 0.0, "high": 0.1}, "lr.low: a log scale needs low > 0"),
    ({"distribution": "log-uniform", "low": -1e-3, "high": 0.1}, "lr.low: a log scale needs low > 0"),
    ({"distribution": "uniform", "low": 0.1, "high": 0.01}, "lr: low must be below high"),
    ({"distribution": "uniform", "low": 0.1, "high": 0.1}, "lr: low must be below high"),
    ({"distribution": "uniform", "low": "a", "high": 0.1}, "lr.low: expected a finite number"),
    ({"distribution": "int", "low": 1.5, "high": 4}, "lr: an int distribution needs whole-number bounds"),
    ({"distribution": "gaussian", "low": 0, "high": 1}, "lr: distribution must be one of log-uniform, uniform, int, choice"),
    ({"distribution": "uniform", "low": 0, "high": 1, "step": 2}, "lr.step: a uniform distribution takes low, high"),
    ({"distribution": "choice", "values": []}, "lr.values: a choice needs a non-empty list"),
    ({"distribution": "uniform", "low": -1, "high": 1}, "lr: must be >= 0, got -1"),
])
def test_a_bad_distribution_is_one_line_naming_the_field(lr, message):
    with pytest.raises(SpecError, match="grid.optimizer\\[0\\]." + message.replace("(", "\\(")):
        parse_spec(_spec({"strategy": "random", "budget": 8}, lr=lr))


@pytest.mark.parametrize("search, message", [
    ({"strategy": "annealing"}, "search.strategy: expected one of grid, random, sobol, tpe, halving"),
    ({"strategy": "random"}, "search.budget: random samples configurations"),
    ({"strategy": "grid", "budget": 10}, "search.budget: a grid trains every combination"),
    ({"strategy": "random", "budget": 10, "budget_epochs": 40}, "search.budget: give budget"),
    ({"strategy": "halving", "reduction_factor": 1}, "search.reduction_factor: expected a whole number >= 2"),
    ({"strategy": "random", "sampler": "sobol", "budget": 4}, "search.sampler: the sampler picks halving's entrants"),
    ({"strategy": "halving", "sampler": "random"}, "search.budget: halving over random samples"),
    ({"strategy": "halving", "patience": 2}, "search.patience: unknown key"),
])
def test_a_bad_search_table_is_one_line_naming_the_key(search, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(_spec(search))


def test_a_distribution_in_a_grid_asks_for_a_sampler():
    with pytest.raises(SpecError, match=r"grid.optimizer\[0\].lr: a distribution is sampled"):
        parse_spec(_spec(lr={"distribution": "log-uniform", "low": 1e-4, "high": 1e-1}))


@pytest.mark.parametrize("strategy", ["random", "sobol"])
def test_sampled_studies_are_a_pure_function_of_the_spec_and_its_seed(strategy):
    lr = {"distribution": "log-uniform", "low": 1e-4, "high": 1e-1}
    first = parse_spec(_spec({"strategy": strategy, "budget": 16, "seed": 3}, lr=lr)).configs()
    again = parse_spec(_spec({"strategy": strategy, "budget": 16, "seed": 3}, lr=lr)).configs()
    other = parse_spec(_spec({"strategy": strategy, "budget": 16, "seed": 4}, lr=lr)).configs()
    assert [c.id for c in first] == [c.id for c in again] and len(first) == 16
    assert {c.id for c in first}.isdisjoint({c.id for c in other})
    assert all(1e-4 <= c.lr <= 1e-1 for c in first)
    # the seeds of one setting come together; a list stays a choice among its values
    settings = Counter(config_setting(c) for c in first)
    assert set(settings.values()) == {2}
    assert {c.weight_decay for c in first} <= {0.0, 0.01}


def test_sobol_points_cover_a_log_range_evenly():
    lr = {"distribution": "log-uniform", "low": 1e-4, "high": 1e-0}
    configs = parse_spec(_spec({"strategy": "sobol", "budget": 64}, lr=lr, seeds=[0])).configs()
    decades = Counter(math.floor(math.log10(c.lr)) for c in configs)
    assert sorted(decades) == [-4, -3, -2, -1] and all(n == 16 for n in decades.values())


def test_distributions_map_quantiles_to_values():
    assert Distribution("log-uniform", 1e-4, 1e-2).value(0.5) == pytest.approx(1e-3)
    assert Distribution("uniform", 0.0, 0.2).value(0.25) == pytest.approx(0.05)
    assert [Distribution("int", 1, 4).value(u) for u in (0.0, 0.3, 0.6, 0.99)] == [1, 2, 3, 4]
    assert [Distribution("int", 1, 1000, log=True).value(u) for u in (0.0, 0.5, 0.999)] == [1, 31, 994]
    assert Distribution("choice", values=("a", "b", "c")).value(0.7) == "c"


def test_rungs_and_the_expected_epochs_a_budget_buys():
    halving = SearchSettings("halving", reduction_factor=3, min_epochs=1)
    assert halving.rungs(10) == [1, 3, 9] and halving.rungs(9) == [1, 3]
    assert halving.expected_epochs(9) == pytest.approx(1 + 2 / 3 + 6 / 9)
    assert SearchSettings("halving", "random", budget_epochs=200).n_configs(9) == int(200 // (1 + 2 / 3 + 6 / 9))


def test_asha_keeps_the_best_third_of_every_setting_at_the_rung():
    scores = {"a": 0.9, "b": 0.5, "c": 0.7, "d": math.nan, "e": 0.8, "f": 0.6}
    assert promoted(scores, ["a", "b", "c"], 3, lower_is_better=False) == {"a"}
    assert promoted(scores, ["b", "c", "e"], 3, lower_is_better=False) == {"e"}
    assert promoted(scores, ["b", "d"], 3, lower_is_better=True) == {"b"}  # NaN ranks last either way
    assert promoted({"x": 1.0}, ["x"], 3, lower_is_better=True) == {"x"}  # one setting always goes on


@pytest.fixture(scope="module")
def halving_study(tmp_path_factory):
    """The spec's grid run whole, and run with successive halving (eta 2, rungs at epochs 1 and 2, bundles
    of 12 configurations): the two databases."""
    folder = tmp_path_factory.mktemp("halving")
    grid_db, halving_db = folder / "grid.db", folder / "halving.db"
    run_study(_spec(epochs=4), db=grid_db)
    report = run_study(_spec({"strategy": "halving", "reduction_factor": 2, "min_epochs": 1}, epochs=4), db=halving_db,
                       max_bundle=12)
    assert report.counts.get("failed", 0) == 0
    return grid_db, halving_db


def test_halving_prunes_inside_bundles_and_the_survivors_train_as_in_the_grid(halving_study):
    grid_db, halving_db = halving_study
    with SQLiteStore(grid_db) as grid, SQLiteStore(halving_db) as halving:
        rows = halving.configs("search")
        by_setting = {}
        for row in rows:
            by_setting.setdefault((row.init, row.lr, row.weight_decay), set()).add((row.status, row.epochs_run))
        assert all(len(fates) == 1 for fates in by_setting.values())  # the seeds of a setting share their fate
        # 24 settings in four bundles, rungs at epochs 1 and 2, eta 2: each bundle keeps the settings among
        # the best half of all that reached the rung so far (ASHA), so the first bundles keep more
        ladder = Counter((r.status, r.epochs_run) for r in rows)
        assert ladder[(Status.PRUNED, 1)] + ladder[(Status.PRUNED, 2)] + ladder[(Status.DONE, 4)] == 48
        assert ladder[(Status.PRUNED, 1)] >= 12 and ladder[(Status.PRUNED, 2)] > 0 and 0 < ladder[(Status.DONE, 4)] <= 24
        expected = {(e.config_id, e.epoch): e for e in grid.epochs("search")}
        got = halving.epochs("search")
        assert len(got) == sum(r.epochs_run for r in rows)
        for e in got:  # every stored epoch, of the pruned and of the survivors, is the grid's, bit for bit
            assert (e.train_loss, e.val_loss, e.val_metric) == tuple(
                getattr(expected[e.config_id, e.epoch], f) for f in ("train_loss", "val_loss", "val_metric"))
        for row in rows:
            if row.status is Status.PRUNED:
                assert row.val_metric == expected[row.id, row.epochs_run].val_metric
        # the best finished setting of the halving is among the grid's best
        best = max((r for r in rows if r.status is Status.DONE), key=lambda r: r.val_metric)
        assert best.val_metric >= sorted(r.val_metric for r in grid.configs("search"))[-8]


def test_halving_runs_the_bundled_engine_only(tmp_path):
    with pytest.raises(ValueError, match="--engine sequential: successive halving"):
        run_study(_spec({"strategy": "halving"}), db=tmp_path / "s.db", engine="sequential")


def test_the_report_shows_the_ladder_and_ranks_finished_configurations_only(halving_study, tmp_path):
    from initopt.report import write_report
    from initopt.report.data import load_study
    from initopt.report.sections import build_report

    _, db = halving_study
    report = build_report(load_study(db))
    ladder = report.ladder
    assert [r.epoch for r in ladder.rungs] == [1, 2, 4] and ladder.rungs[0].reached == 48
    assert ladder.rungs[0].went_on == ladder.rungs[1].reached and ladder.rungs[1].went_on == ladder.rungs[2].reached
    assert ladder.pruned + ladder.finished == 48 and ladder.finished == ladder.rungs[2].reached
    finished = {r.id for r in load_study(db).configs if r.status is Status.DONE}
    assert report.candidates and all(set(c.config_ids) <= finished for c in report.candidates)
    assert report.recommendation.best.config_ids[0] in finished
    assert any("pruned" in note and f"stand on the {ladder.finished}" in note for note in report.notes)
    html = write_report(db, out=tmp_path / "r.html").read_text()
    assert '<section id="ladder">' in html and "<td>48</td>" in html
    markdown = write_report(db, out=tmp_path / "r.md", format="markdown").read_text()
    assert "Successive halving" in markdown and "| 1 | 48 | 24 |" in markdown


TPE_SEARCH = {"strategy": "tpe", "budget": 16, "seed": 5}
LOG_LR = {"distribution": "log-uniform", "low": 1e-4, "high": 1.0}


@pytest.mark.parametrize("strategy", ["grid", "random", "sobol", "tpe", "halving"])
def test_every_strategy_runs_from_a_python_dict(strategy, tmp_path):
    search = {"strategy": strategy, **({"budget": 8} if strategy in ("random", "sobol", "tpe") else {})}
    lr = LOG_LR if strategy in ("random", "sobol", "tpe") else None
    report = run_study(_spec(search, lr=lr, epochs=3), db=tmp_path / "s.db")
    assert report.counts.get("failed", 0) == 0 and report.n_configs == (8 if lr else 48)
    assert report.counts.get("done", 0) + report.counts.get("pruned", 0) == report.n_configs


def test_tpe_asks_in_rounds_and_is_replayed_when_run_again(tmp_path):
    raw = _spec(TPE_SEARCH, lr=LOG_LR, epochs=2)
    first = run_study(raw, db=tmp_path / "a.db")
    again = run_study(raw, db=tmp_path / "a.db")
    fresh = run_study(raw, db=tmp_path / "b.db")
    assert first.trained == 16 and again.trained == 0 and again.skipped == 16  # the same asks, told the same results
    with SQLiteStore(tmp_path / "a.db") as a, SQLiteStore(tmp_path / "b.db") as b:
        rows = a.configs("search")
        assert [r.id for r in rows] == [r.id for r in b.configs("search")] and fresh.trained == 16
        assert all(1e-4 <= r.lr <= 1.0 for r in rows)
        assert Counter(r.seed for r in rows) == {0: 8, 1: 8}
    # asked in rounds of at most a quarter of the budget: the later rounds come after the first results
    from initopt.study.adaptive import rounds_of

    assert rounds_of(parse_spec(raw), per_round=100).per_round == 2


def test_halving_over_a_bundle_of_two_optimizer_families(tmp_path):
    """SGD and Adam configurations in one bundle: the survivors keep each family contiguous (a resumed
    study's bundles too, re-ordered as the plan orders them)."""
    raw = _spec({"strategy": "halving", "reduction_factor": 3}, epochs=3)
    raw["grid"]["optimizer"].append({"name": "sgd", "lr": [0.01, 0.1], "momentum": [0.0, 0.9]})
    report = run_study(raw, db=tmp_path / "s.db")
    assert report.counts.get("failed", 0) == 0 and report.counts["pruned"] > 0 and report.counts["done"] > 0


def test_halving_over_tpe_tells_the_sampler_which_settings_were_pruned(tmp_path):
    raw = _spec({"strategy": "halving", "sampler": "tpe", "budget": 16, "reduction_factor": 2, "seed": 1},
                lr=LOG_LR, epochs=3)
    first = run_study(raw, db=tmp_path / "s.db")
    again = run_study(raw, db=tmp_path / "s.db")
    assert first.counts.get("pruned", 0) > 0 and first.counts.get("done", 0) > 0 and first.n_configs == 16
    assert again.trained == 0 and again.skipped == 16  # replayed: the same asks after the same tells
