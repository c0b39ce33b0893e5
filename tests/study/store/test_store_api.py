"""Conformance suite: every public method of the store, run on every backend in ``conftest.BACKENDS``."""

from __future__ import annotations

import math

import pytest

from initopt.study.store import (
    ConfigRecord,
    EpochRecord,
    ResultRecord,
    Status,
    StoreError,
)

STUDY = "lr-sweep"
WORKLOAD = "mlp-xor-10ep-bs64"
IDS = [f"c{i:04d}" for i in range(6)]


def epochs_for(ids, epoch, loss=1.0):
    return [EpochRecord(i, epoch, loss, 0.5, loss + 0.1, 0.6, seconds=0.01) for i in ids]


def done(config_id, epochs=2, **kw):
    return ResultRecord(config_id, Status.DONE, epochs, 0.1, 0.2, 0.9, wall_seconds=1.5, **kw)


# --- studies ------------------------------------------------------------------------------------


def test_begin_study_creates_and_reads_back(store):
    spec = {"grid": {"lr": [0.1, 0.01]}, "seeds": 3, "name": STUDY}
    store.begin_study(STUDY, spec, WORKLOAD, {"torch": "2.11"})
    rec = store.study(STUDY)
    assert (rec.name, rec.spec, rec.workload_key, rec.environment) == (STUDY, spec, WORKLOAD, {"torch": "2.11"})
    assert rec.created == rec.updated and rec.created.endswith("+00:00")
    assert rec.counts == {s: 0 for s in Status} and rec.n_configs == 0
    assert [s.name for s in store.studies()] == [STUDY]


def test_begin_study_again_same_workload_updates_spec_and_keeps_results(study):
    study.mark_running(STUDY, IDS[:1])
    study.finish(STUDY, [done(IDS[0])])
    created = study.study(STUDY).created
    study.begin_study(STUDY, {"grid": "bigger"}, WORKLOAD, {"torch": "2.12"})
    rec = study.study(STUDY)
    assert rec.spec == {"grid": "bigger"} and rec.created == created and rec.updated >= created
    assert rec.environment["torch"] == "2.11"  # the study keeps its creating environment; runs hold each one
    assert rec.counts[Status.DONE] == 1 and rec.n_configs == 6


def test_begin_study_with_other_workload_is_refused(study, tmp_path):
    with pytest.raises(StoreError, match="different workload/train settings; use another name or --db") as err:
        study.begin_study(STUDY, {}, "cnn-mnist1d-20ep", {})
    assert repr(STUDY) in str(err.value) and study.path in str(err.value)
    assert study.study(STUDY).workload_key == WORKLOAD and len(study.configs(STUDY)) == 6


def test_unknown_study_lists_studies_and_suggests_closest(study):
    study.begin_study("adamw-wd", {}, WORKLOAD, {})
    with pytest.raises(StoreError, match=r"no study 'lr-swep'.*did you mean 'lr-sweep'\?.*studies: lr-sweep, adamw-wd"):
        study.study("lr-swep")
    for call in (study.configs, study.counts, study.to_run, study.epochs, study.runs):
        with pytest.raises(StoreError, match="no study 'nope'"):
            call("nope")
    with pytest.raises(StoreError, match="no study 'nope'"):
        study.add_configs("nope", [])


def test_unknown_study_in_empty_file(store):
    with pytest.raises(StoreError, match="has no studies yet"):
        store.study("x")


def test_studies_are_listed_oldest_first_with_counts(store, make_configs):
    for name, n in (("b", 2), ("a", 3)):
        store.begin_study(name, {}, WORKLOAD, {})
        store.add_configs(name, make_configs(n, prefix=name))
    assert [(s.name, s.counts[Status.PENDING]) for s in store.studies()] == [("b", 2), ("a", 3)]


# --- configs ------------------------------------------------------------------------------------


def test_add_configs_inserts_only_new_and_round_trips(study, make_configs):
    configs = make_configs(8)
    assert study.add_configs(STUDY, configs) == 2  # six were there already
    assert study.add_configs(STUDY, configs) == 0
    assert study.add_configs(STUDY, [configs[0], configs[0]]) == 0
    rows = study.configs(STUDY)
    assert [r.config for r in rows] == configs  # insertion order; betas come back as the tuple given
    assert all(r.status is Status.PENDING and r.epochs_run == 0 and r.train_loss is None for r in rows)


def test_add_configs_same_ids_in_two_studies_are_separate(study, make_configs):
    study.begin_study("other", {}, "other-workload", {})
    assert study.add_configs("other", make_configs(6)) == 6
    study.mark_running("other", IDS)
    assert study.counts(STUDY)[Status.PENDING] == 6


def test_config_columns_are_filterable_in_sql(study):
    rows = study.conn.execute(
        "SELECT id FROM configs WHERE study = ? AND optimizer = 'sgd' AND lr = 0.1 AND momentum = 0.9", (STUDY,)
    ).fetchall()
    assert [r[0] for r in rows] == ["c0000"]
    (adam_eps,) = study.conn.execute(
        "SELECT json_extract(hyper, '$.eps') FROM configs WHERE study = ? AND id = 'c0001'", (STUDY,)
    ).fetchone()
    assert adam_eps == 1e-8


def test_config_row_properties_and_to_dict(study):
    sgd, adam = study.configs(STUDY)[:2]
    assert (sgd.lr, sgd.weight_decay, sgd.momentum) == (0.1, 0.0, 0.9)
    assert adam.momentum is None and adam.hyper["betas"] == (0.9, 0.999)
    d = sgd.to_dict()
    lead = "id init optimizer lr weight_decay seed status epochs_run train_loss val_loss val_metric".split()
    assert list(d)[: len(lead)] == lead
    assert d["status"] == "pending" and type(d["status"]) is str
    assert set("momentum hyper init_params error diverged_epoch wall_seconds started finished".split()) <= set(d)


def test_json_unfriendly_values_are_refused_with_the_field(study):
    bad = ConfigRecord("x", "he_normal", {}, "sgd", {"lr": float("nan")}, 0)
    with pytest.raises(StoreError, match="hyper of config x"):
        study.add_configs(STUDY, [bad])
    with pytest.raises(StoreError, match="spec of study 's'"):
        study.begin_study("s", {"when": object()}, WORKLOAD, {})


# --- the life of a config -----------------------------------------------------------------------


def test_to_run_gives_pending_and_running_in_insertion_order(study):
    assert study.to_run(STUDY) == IDS
    study.mark_running(STUDY, IDS[:4])
    study.finish(
        STUDY,
        [
            done(IDS[0]),
            ResultRecord(IDS[1], Status.DIVERGED, 3, math.nan, math.nan, math.nan, diverged_epoch=3),
            ResultRecord(IDS[2], "failed", 0, error="RuntimeError: CUDA out of memory"),
        ],
    )
    assert study.to_run(STUDY) == IDS[3:]  # c0003 is running: a crash left it so
    assert study.to_run(STUDY, ids=[IDS[5], IDS[0], IDS[3], "unknown"]) == [IDS[3], IDS[5]]
    assert study.counts(STUDY) == {
        Status.PENDING: 2, Status.RUNNING: 1, Status.DONE: 1, Status.DIVERGED: 1, Status.FAILED: 1, Status.PRUNED: 0
    }  # fmt: skip
    study.mark_running(STUDY, [IDS[3]])
    study.finish(STUDY, [ResultRecord(IDS[3], Status.PRUNED, 1, 0.5, 0.6, 0.7)])  # stopped at a rung: final
    assert study.to_run(STUDY) == IDS[4:]
    assert study.counts(STUDY)[Status.PRUNED] == 1


def test_status_transitions(study):
    row = {r.id: r for r in study.configs(STUDY)}[IDS[0]]
    assert row.status is Status.PENDING and row.started is None
    study.mark_running(STUDY, [IDS[0]])
    row = study.configs(STUDY)[0]
    assert row.status is Status.RUNNING and row.started is not None and row.finished is None
    study.mark_running(STUDY, [IDS[0]])  # running -> running: the resume of an interrupted attempt
    study.finish(STUDY, [done(IDS[0], epochs=7)])
    row = study.configs(STUDY)[0]
    assert row.status is Status.DONE and row.finished >= row.started
    assert (row.epochs_run, row.train_loss, row.val_loss, row.val_metric, row.wall_seconds) == (7, 0.1, 0.2, 0.9, 1.5)
    study.finish(STUDY, [ResultRecord(IDS[1], Status.FAILED, 0, error="boom")])  # pending -> failed is allowed


@pytest.mark.parametrize("final", [Status.DONE, Status.DIVERGED, Status.FAILED])
def test_finished_configs_cannot_run_or_finish_again(study, final):
    study.mark_running(STUDY, IDS[:2])
    study.finish(STUDY, [ResultRecord(IDS[0], final, 1)])
    study.record_epochs(STUDY, epochs_for(IDS[1:2], 1))
    with pytest.raises(StoreError, match=rf"only pending or running configs can; got c0000 \({final.value}\)"):
        study.mark_running(STUDY, [IDS[1], IDS[0]])
    with pytest.raises(StoreError, match="cannot finish configs"):
        study.finish(STUDY, [done(IDS[1]), done(IDS[0])])
    with pytest.raises(StoreError, match=r"only running configs can; got c0000"):
        study.record_epochs(STUDY, epochs_for(IDS[:2], 2))
    # Each refused call rolled back as a whole: c0001 is still running with only its first epoch.
    assert study.configs(STUDY)[1].status is Status.RUNNING
    assert [(e.config_id, e.epoch) for e in study.epochs(STUDY)] == [(IDS[1], 1)]


def test_refusals_name_unknown_configs(study):
    with pytest.raises(StoreError, match=r"got zzz \(not in the study\)"):
        study.mark_running(STUDY, ["zzz"])
    with pytest.raises(StoreError, match=r"zzz \(not in the study\)"):
        study.record_epochs(STUDY, [EpochRecord("zzz", 1, 0.0)])
    with pytest.raises(StoreError, match="more than one result for config"):
        study.finish(STUDY, [done(IDS[0]), done(IDS[0])])


def test_result_record_status_must_be_final():
    with pytest.raises(ValueError, match="must be one of done, diverged, failed"):
        ResultRecord("c", Status.RUNNING, 0)
    assert ResultRecord("c", "diverged", 1).status is Status.DIVERGED


# --- epochs -------------------------------------------------------------------------------------


def test_record_epochs_round_trip_and_order(study):
    study.mark_running(STUDY, IDS[:3])
    for epoch in (1, 2):
        study.record_epochs(STUDY, epochs_for(reversed(IDS[:3]), epoch, loss=1.0 / epoch))
    got = study.epochs(STUDY)
    assert [(e.config_id, e.epoch) for e in got] == [(i, e) for i in IDS[:3] for e in (1, 2)]
    assert got[1] == EpochRecord(IDS[0], 2, 0.5, 0.5, 0.6, 0.6, seconds=0.01)
    assert [e.epoch for e in study.epochs(STUDY, IDS[2])] == [1, 2]
    assert study.epochs(STUDY, "unknown") == []
    assert [r.epochs_run for r in study.configs(STUDY)][:4] == [2, 2, 2, 0]  # running: epochs stored so far


def test_nan_and_inf_round_trip(study):
    study.mark_running(STUDY, IDS[:1])
    study.record_epochs(STUDY, [EpochRecord(IDS[0], 1, math.nan, math.inf, -math.inf, math.nan)])
    (e,) = study.epochs(STUDY)
    assert math.isnan(e.train_loss) and math.isnan(e.val_metric) and e.seconds is None
    assert (e.train_metric, e.val_loss) == (math.inf, -math.inf)
    stored = study.conn.execute("SELECT train_loss, val_metric FROM epochs").fetchone()
    assert tuple(stored) == (None, None)  # NaN is NULL in SQL, so AVG() and friends skip it
    study.finish(STUDY, [ResultRecord(IDS[0], Status.DIVERGED, 1, math.nan, math.nan, math.nan, diverged_epoch=1)])
    row = study.configs(STUDY)[0]
    assert math.isnan(row.train_loss) and math.isnan(row.val_loss) and row.diverged_epoch == 1
    assert study.configs(STUDY)[1].val_loss is None  # not run yet: None, not NaN


def test_record_epochs_replaces_an_epoch_stored_twice(study):
    study.mark_running(STUDY, IDS[:1])
    study.record_epochs(STUDY, epochs_for(IDS[:1], 1, loss=9.0))
    study.record_epochs(STUDY, epochs_for(IDS[:1], 1, loss=3.0))
    assert [e.train_loss for e in study.epochs(STUDY)] == [3.0]


def test_epoch_numbers_start_at_one(study):
    study.mark_running(STUDY, IDS[:1])
    with pytest.raises(StoreError, match="CHECK constraint"):
        study.record_epochs(STUDY, [EpochRecord(IDS[0], 0, 1.0)])


def test_record_epochs_accepts_an_empty_batch(study):
    study.record_epochs(STUDY, [])
    study.finish(STUDY, [])
    study.mark_running(STUDY, [])
    assert study.epochs(STUDY) == []


# --- resume -------------------------------------------------------------------------------------


def test_resume_drops_the_epochs_of_the_interrupted_attempt(study):
    study.mark_running(STUDY, IDS[:3])
    for epoch in (1, 2, 3):
        study.record_epochs(STUDY, epochs_for(IDS[:3], epoch))
    study.finish(STUDY, [done(IDS[0], epochs=3)])
    # ... the process dies here; c0001 and c0002 are left running with three epochs each.
    todo = study.to_run(STUDY)
    assert todo == IDS[1:]
    study.mark_running(STUDY, todo)
    assert {e.config_id for e in study.epochs(STUDY)} == {IDS[0]}  # the finished config keeps its epochs
    study.record_epochs(STUDY, epochs_for(todo, 1))
    rerun = sorted((e.config_id, e.epoch) for e in study.epochs(STUDY) if e.config_id != IDS[0])
    assert rerun == [(i, 1) for i in todo]


def test_reset_puts_failed_configs_back(study):
    study.mark_running(STUDY, IDS[:2])
    study.record_epochs(STUDY, epochs_for(IDS[:2], 1))
    study.finish(STUDY, [ResultRecord(IDS[0], Status.FAILED, 1, error="oom"), done(IDS[1], 1)])
    assert study.reset(STUDY, [IDS[0]]) == 1
    row = study.configs(STUDY)[0]
    assert (row.status, row.error, row.train_loss, row.finished) == (Status.PENDING, None, None, None)
    assert row.epochs_run == 0
    assert [e.config_id for e in study.epochs(STUDY)] == [IDS[1]]
    assert study.to_run(STUDY)[0] == IDS[0]
    with pytest.raises(StoreError, match="not in study 'lr-sweep'.*: zzz"):
        study.reset(STUDY, ["zzz"])


# --- runs ---------------------------------------------------------------------------------------


def test_runs(study):
    first = study.start_run(STUDY, "bundled", {"device": "cuda:0"}, 6)
    second = study.start_run(STUDY, "sequential", {"device": "cpu"}, 2)
    study.end_run(second)
    runs = study.runs(STUDY)
    assert [(r.id, r.engine, r.n_configs, r.environment["device"]) for r in runs] == [
        (first, "bundled", 6, "cuda:0"),
        (second, "sequential", 2, "cpu"),
    ]
    assert runs[0].finished is None and runs[1].finished >= runs[1].started
    with pytest.raises(StoreError, match="no run 999"):
        study.end_run(999)
    with pytest.raises(StoreError, match="no study"):
        study.start_run("nope", "bundled", {}, 1)


# --- plumbing -----------------------------------------------------------------------------------


def test_close_is_idempotent_and_use_after_close_is_an_error(store):
    store.close()
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.studies()


def test_store_satisfies_the_protocol(store):
    from initopt.study.store import Store

    missing = [name for name in dir(Store) if not name.startswith("_") and not callable(getattr(store, name, None))]
    assert missing == []
