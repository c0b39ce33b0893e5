"""Lion, Muon (with its AdamW), Adafactor and Schedule-Free AdamW as study optimizers: the bundled engine
gives the sequential engine's losses, each configuration with its own hyperparameters."""

from __future__ import annotations

import pytest
import torch

from initopt.optim.batched import BatchedOptimizer
from initopt.study import parse_spec, resolved
from initopt.study.engine import train_bundle
from initopt.study.sequential import train_sequential
from initopt.study.spec import SpecError
from initopt.study.workload import prepare

TRANSFORMER = {"dataset": "modular-addition", "model": "transformer", "d_model": 16, "layers": 1, "heads": 2,
               "data": {"p": 11, "train_fraction": 0.5}}
MLP = {"dataset": "seed-binary", "model": "mlp", "hidden": [16, 8]}


def _train(workload_table: dict) -> dict:
    """Two epochs; the MLP's 800 examples in batches of 128 (its study default of 32 makes 4x the steps)."""
    return {"epochs": 2, "batch_size": 128 if workload_table is MLP else 32}


def _losses(workload, configs, engine):
    out: dict[str, list[float]] = {}
    engine(workload, configs, on_epoch=lambda rows: [out.setdefault(r.config_id, []).append(r.train_loss) for r in rows])
    return out


@pytest.mark.parametrize("workload_table", [MLP, TRANSFORMER], ids=["mlp", "transformer"])
def test_lion_and_muon_bundles_train_as_the_sequential_engine(workload_table):
    raw = {"name": "families", "workload": workload_table, "train": _train(workload_table),
           "grid": {"init": ["he_normal"], "seeds": [0, 1], "optimizer": [
               {"name": "lion", "lr": [1e-4, 3e-4], "weight_decay": [1.0], "decay": ["coupled", "independent"],
                "schedule": ["constant", "warmup-cosine"]},
               {"name": "muon", "lr": [1e-3], "adjust_lr_fn": ["original", "match_rms_adamw"], "momentum": [0.9, 0.95]}]}}
    workload = prepare(parse_spec(raw))
    configs = workload.spec.configs()
    bundled, sequential = _losses(workload, configs, train_bundle), _losses(workload, configs, train_sequential)
    for config in configs:
        # Muon's Newton-Schulz runs in bfloat16: the bundled forward's last-bit differences can move an
        # element by 2^-8 there, so the engines agree to 1e-4 rather than to the last bits
        assert bundled[config.id] == pytest.approx(sequential[config.id], abs=1e-4), config.hyper
    lion = {(c.hyper["lr"], c.hyper["decay"], c.hyper.get("schedule"), c.seed): bundled[c.id] for c in configs if c.optimizer == "lion"}
    assert lion[(1e-4, "coupled", None, 0)] != pytest.approx(lion[(3e-4, "coupled", None, 0)], abs=1e-5)


def test_the_spec_takes_each_familys_hyperparameters_and_names_a_wrong_one():
    spec = parse_spec({"name": "s", "workload": MLP, "train": {"epochs": 1},
                       "grid": {"init": ["he_normal"], "seeds": [0],
                                "optimizer": [{"name": "muon", "adjust_lr_fn": ["match_rms_adamw"]}, {"name": "lion"}]}})
    muon, lion = resolved(spec).configs()
    assert muon.hyper == {"lr": 1e-3, "weight_decay": 0.1, "momentum": 0.95, "nesterov": True, "adjust_lr_fn": "match_rms_adamw"}
    assert lion.hyper == {"lr": 1e-4, "betas": [0.9, 0.99], "weight_decay": 0.0, "decay": "coupled"}
    with pytest.raises(SpecError, match="grid.optimizer\\[0\\].eps.*lion does not take"):
        parse_spec({"name": "s", "workload": MLP, "grid": {"init": ["he_normal"], "optimizer": [{"name": "lion", "eps": [1e-8]}]}})
    with pytest.raises(SpecError, match="adjust_lr_fn.*original, match_rms_adamw"):
        parse_spec({"name": "s", "workload": MLP, "grid": {"init": ["he_normal"], "optimizer": [{"name": "muon", "adjust_lr_fn": ["rms"]}]}})


# -------------------------------------------------------------------- Adafactor and Schedule-Free AdamW

#: Stacked shapes per configuration: a matrix and a 4-D tensor (Adafactor factors their last two dims),
#: a vector and a scalar (a full second moment)
SHAPES = [(4, 3), (2, 3, 4), (5,), ()]
ADAFACTOR = [{"lr": 1e-2, "beta2_decay": -0.8, "eps2": 1e-3, "d": 1.0, "weight_decay": 0.0},
             {"lr": 0.3, "beta2_decay": -0.5, "eps2": 1e-2, "d": 2.0, "weight_decay": 0.1, "schedule": "warmup-cosine",
              "warmup": 0.2},
             {"lr": 1e-3, "beta2_decay": -0.8, "eps2": 1e-3, "d": 1.0, "weight_decay": 0.5, "schedule": "wsd"}]
SCHEDULE_FREE = [{"lr": 2.5e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "warmup_steps": 0, "r": 0.0,
                  "weight_lr_power": 2.0},
                 {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1, "warmup_steps": 7, "r": 0.5,
                  "weight_lr_power": 1.0},
                 {"lr": 1e-3, "betas": (0.95, 0.999), "eps": 1e-8, "weight_decay": 0.01, "warmup_steps": 3, "r": 0.0,
                  "weight_lr_power": 2.0}]


def _adafactor(params, h):
    return torch.optim.Adafactor(params, lr=h["lr"], beta2_decay=h["beta2_decay"], eps=(None, h["eps2"]), d=h["d"],
                                 weight_decay=h["weight_decay"])


def _schedule_free(params, h):
    from initopt.optim import ScheduleFreeAdamW

    return ScheduleFreeAdamW(params, **h)


@pytest.mark.parametrize(("name", "hypers", "reference", "state_keys"), [
    ("adafactor", ADAFACTOR, _adafactor, ("row_var", "col_var", "variance")),
    ("schedule_free_adamw", SCHEDULE_FREE, _schedule_free, ("z", "exp_avg_sq"))], ids=["adafactor", "schedule_free"])
def test_each_configuration_steps_as_its_drop_in(name, hypers, reference, state_keys):
    """The batched segment against torch.optim.Adafactor (with a LambdaLR where scheduled) and
    ScheduleFreeAdamW (bitwise schedulefree's), configuration by configuration, over 30 steps with
    Schedule-Free's train/eval switch every 5: parameters and state, to the last bit on the CPU."""
    from initopt.optim.schedules import schedule_of, scheduler

    steps, generator = 30, torch.Generator().manual_seed(0)
    stacked = [torch.randn(len(hypers), *shape, generator=generator) for shape in SHAPES]
    singles = [[p[i].clone() for p in stacked] for i in range(len(hypers))]
    references = [reference(ps, h) for ps, h in zip(singles, hypers)]
    schedules = [scheduler(opt, schedule_of(h), steps) for opt, h in zip(references, hypers) if schedule_of(h)]
    optimizer = BatchedOptimizer(stacked, [dict(h, name=name) for h in hypers], total_steps=steps)
    modes = [optimizer] + [opt for opt in references if hasattr(opt, "train")]
    for step in range(steps):
        if step % 5 == 0:
            for opt in modes:
                opt.train()
        grads = [torch.randn(p.shape, generator=generator) for p in stacked]
        optimizer.step(grads)
        for i, (ps, opt) in enumerate(zip(singles, references)):
            for p, g in zip(ps, grads):
                p.grad = g[i].clone()
            opt.step()
        for lr_schedule in schedules:
            lr_schedule.step()
        if step % 5 == 4:
            for opt in modes:
                opt.eval()
    [segment] = optimizer.segments
    for i, (ps, opt) in enumerate(zip(singles, references)):
        for j, single in enumerate(ps):
            assert torch.equal(stacked[j][i], single), (i, j)
            for key in state_keys:
                mine = getattr(segment, key)[j]
                if key in opt.state[single]:
                    assert torch.equal(mine[i], opt.state[single][key]), (i, j, key)
                else:
                    assert mine is None, (i, j, key)


def test_schedule_free_steps_only_in_train_mode_and_frozen_configurations_keep_their_parameters():
    params = [torch.randn(3, 4, 2), torch.randn(3, 2)]
    optimizer = BatchedOptimizer(params, [dict(h, name="schedule_free_adamw") for h in SCHEDULE_FREE])
    with pytest.raises(RuntimeError, match="eval mode"):
        optimizer.step([torch.randn_like(p) for p in params])
    optimizer.train()
    optimizer.step([torch.randn_like(p) for p in params])
    optimizer.freeze(torch.tensor([False, True, False]))
    before = [p[1].clone() for p in params]
    for _ in range(3):
        optimizer.step([torch.full_like(p, float("nan")) for p in params])
        optimizer.eval()
        optimizer.train()
    assert all(torch.equal(p[1], b) for p, b in zip(params, before))


FAMILIES_GRID = [
    {"name": "adafactor", "lr": [1e-2, 3e-2], "weight_decay": [0.0, 0.1], "schedule": ["constant", "warmup-cosine"]},
    {"name": "schedule_free_adamw", "lr": [2.5e-3, 1e-2], "warmup_steps": [0, 5], "weight_decay": [0.05]},
    {"name": "adam", "lr": [1e-3]}]


@pytest.mark.parametrize("workload_table", [MLP, TRANSFORMER], ids=["mlp", "transformer"])
def test_adafactor_and_schedule_free_bundles_train_as_the_sequential_engine(workload_table):
    """Bundled as the planner bundles them (Schedule-Free beside Adam, on the hand-batched MLP's packed
    blocks; Adafactor alone, on the model's own parameters): every epoch's training, validation and test
    losses within 1e-5 of the sequential engine's (the held-out ones computed at Schedule-Free's x)."""
    from initopt.study.plan import plan_bundles

    raw = {"name": "families", "workload": workload_table, "train": _train(workload_table),
           "grid": {"init": ["he_normal"], "seeds": [0], "optimizer": FAMILIES_GRID}}
    workload = prepare(parse_spec(raw))
    configs = workload.spec.configs()
    bundles = plan_bundles(configs, per_config_bytes=1, budget_bytes=1 << 40)
    assert [sorted({c.optimizer for c in b.configs}) for b in bundles] == [["adam", "schedule_free_adamw"], ["adafactor"]]
    sequential, bundled = _values(workload, configs, train_sequential), {}
    for bundle in bundles:
        bundled.update(_values(workload, list(bundle.configs), train_bundle))
    for config in configs:
        assert bundled[config.id] == pytest.approx(sequential[config.id], rel=0, abs=1e-5), config.hyper
    adafactor = {(c.hyper["lr"], c.hyper.get("schedule")): bundled[c.id] for c in configs
                 if c.optimizer == "adafactor" and c.hyper["weight_decay"] == 0}
    assert adafactor[(1e-2, None)] != pytest.approx(adafactor[(1e-2, "warmup-cosine")], abs=1e-5)


def _values(workload, configs, engine):
    """Each configuration's (train, validation, test) losses, epoch after epoch."""
    out: dict[str, list[float]] = {}
    engine(workload, configs, on_epoch=lambda rows: [out.setdefault(r.config_id, []).extend(
        (r.train_loss, r.val_loss, r.test_loss)) for r in rows])
    return out


@pytest.mark.parametrize("optimizer", [FAMILIES_GRID[0], FAMILIES_GRID[1]], ids=["adafactor", "schedule_free"])
def test_an_interrupted_bundle_resumes_with_identical_results(tmp_path, optimizer):
    """Adafactor's factored moments and Schedule-Free's z, lr_max, weight_sum and mode (the checkpoint
    holds x) in the checkpoint: resumed after epoch 2 of 4, the same numbers to the last bit."""
    from initopt.study.runner import ProgressEvents, StudyInterrupted, run_study
    from initopt.study.store import SQLiteStore

    raw = {"name": "resume", "workload": {"dataset": "breast-cancer", "model": "mlp", "hidden": [16]},
           "train": {"epochs": 4, "batch_size": 32},
           "grid": {"init": ["he_normal"], "seeds": [0, 1], "optimizer": [dict(optimizer, lr=optimizer["lr"][:1])]}}
    n, steps_per_epoch = len(resolved(parse_spec(raw)).configs()), prepare(parse_spec(raw)).steps_per_epoch
    seen = {"steps": 0}

    def stop_after_two_epochs(steps: int) -> None:
        seen["steps"] += steps
        if seen["steps"] >= 2 * steps_per_epoch * n:
            raise KeyboardInterrupt

    def epochs(db):
        with SQLiteStore(db) as store:
            return {(e.config_id, e.epoch): (e.train_loss, e.val_loss, e.test_loss) for e in store.epochs("resume")}

    run_study(raw, db=tmp_path / "whole.db")
    with pytest.raises(StudyInterrupted) as caught:
        run_study(raw, db=tmp_path / "cut.db", events=ProgressEvents(steps=stop_after_two_epochs), checkpoint_seconds=0)
    assert [c.epoch for c in caught.value.checkpoints] == [2]
    notices = []
    run_study(raw, db=tmp_path / "cut.db", events=ProgressEvents(notice=notices.append))
    assert any("resuming a bundle" in text for text in notices), notices
    assert epochs(tmp_path / "cut.db") == epochs(tmp_path / "whole.db")


def test_the_spec_takes_adafactor_and_schedule_free_with_their_defaults_and_names_a_wrong_key():
    spec = parse_spec({"name": "s", "workload": MLP, "train": {"epochs": 1},
                       "grid": {"init": ["he_normal"], "seeds": [0], "optimizer": [
                           {"name": "adafactor"}, {"name": "schedule_free_adamw", "schedule": ["constant"]}]}})
    adafactor, schedule_free = resolved(spec).configs()
    assert adafactor.hyper == {"lr": 1e-2, "beta2_decay": -0.8, "eps2": 1e-3, "d": 1.0, "weight_decay": 0.0}
    assert schedule_free.hyper == {"lr": 0.0025, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0,
                                   "warmup_steps": 0.0, "r": 0.0, "weight_lr_power": 2.0}

    def error(table: dict) -> str:
        with pytest.raises(SpecError) as caught:
            parse_spec({"name": "s", "workload": MLP, "grid": {"init": ["he_normal"], "optimizer": [table]}})
        return str(caught.value)

    assert "grid.optimizer[0].eps: adafactor does not take this hyperparameter; did you mean 'eps2'?" in \
        error({"name": "adafactor", "eps": [1e-3]})
    assert "grid.optimizer[0].beta2_decay: must be <= 0" in error({"name": "adafactor", "beta2_decay": [0.8]})
    assert "grid.optimizer[0].d: the update clipping threshold d must be >= 1" in error({"name": "adafactor", "d": [0.5]})
    assert "grid.optimizer[0].schedule: schedule_free_adamw takes no schedule ('warmup-cosine')" in \
        error({"name": "schedule_free_adamw", "schedule": ["constant", "warmup-cosine"]})
    assert "grid.optimizer[0].warmup: schedule_free_adamw takes no schedule" in \
        error({"name": "schedule_free_adamw", "warmup": [0.1]})
    assert "grid.optimizer[0].warmup_steps: expected a whole number of steps" in \
        error({"name": "schedule_free_adamw", "warmup_steps": [2.5]})
    assert "grid.optimizer[0].betas: schedule-free AdamW needs beta1 > 0" in \
        error({"name": "schedule_free_adamw", "betas": [[0.0, 0.999]]})


def test_the_sequential_engine_builds_the_drop_ins_with_the_studys_param_groups():
    from initopt.optim import Adafactor, ScheduleFreeAdamW

    spec = parse_spec({"name": "s", "workload": MLP, "train": {"epochs": 1}, "grid": {"init": ["he_normal"], "optimizer": [
        {"name": "adafactor", "eps2": [1e-2], "weight_decay": [0.1]}, {"name": "schedule_free_adamw", "warmup_steps": [5]}]}})
    workload = prepare(spec)
    adafactor, schedule_free = (workload.optimizer(workload.initialized_model(c), c) for c in workload.spec.configs())
    assert isinstance(adafactor, Adafactor) and isinstance(schedule_free, ScheduleFreeAdamW)
    assert [g["eps"] for g in adafactor.param_groups] == [(None, 1e-2)] * 2
    assert [g["weight_decay"] for g in adafactor.param_groups] == [0.1, 0.0]  # biases do not decay
    assert schedule_free.param_groups[0]["warmup_steps"] == 5 and isinstance(schedule_free.param_groups[0]["warmup_steps"], int)


def test_muon_batched_over_the_bundle_trains_as_the_sequential_engine():
    """The Triton path's Muon (a GPU bundle's): one batched Newton-Schulz over the stacked matrices."""
    raw = {"name": "batched-muon", "workload": TRANSFORMER, "train": {"epochs": 2, "batch_size": 32},
           "grid": {"init": ["he_normal"], "seeds": [0, 1],
                    "optimizer": [{"name": "muon", "lr": [1e-3, 3e-3], "adjust_lr_fn": ["original", "match_rms_adamw"]}]}}
    workload = prepare(parse_spec(raw))
    configs = workload.spec.configs()
    bundled: dict[str, list[float]] = {}
    train_bundle(workload, configs, optimizer_path="triton",
                 on_epoch=lambda rows: [bundled.setdefault(r.config_id, []).append(r.train_loss) for r in rows])
    sequential = _losses(workload, configs, train_sequential)
    for config in configs:
        assert bundled[config.id] == pytest.approx(sequential[config.id], abs=1e-4), config.hyper
