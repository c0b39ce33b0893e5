"""Run a study: spec -> validated workload -> stored configs -> bundles -> engine -> SQLite, resumably.

Running the same spec on the same database again skips the configurations already finished (done,
diverged or failed) and re-runs the interrupted ones (pending or running), whose partial epochs the
store discards first. A failure inside one bundle marks its configurations failed; the study goes on.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from initopt.study.plan import (BYTES_PER_FLOAT, bundle_capacity, bundle_order, by_model, bytes_per_config,
                                 plan_bundles)
from initopt.study.adaptive import rounds_of
from initopt.study.execution import Execution
from initopt.study.spec import Config, StudySpec, load_spec
from initopt.study.store import DEFAULT_DB, SQLiteStore, Status
from initopt.study.store.claims import Heartbeat, owner_name
from initopt.threads import apply as apply_threads
from initopt.study.workload import PreparedWorkload, prepare
from initopt.training.loop import EVAL_BATCH

ENGINES = ("bundled", "sequential")
# A bundle's checkpoint is written at the end of an epoch once this many seconds have passed since
# its start or its last checkpoint: an interrupted bundle loses at most about this much work, and a
# bundle of short epochs does not write its whole state every fraction of a second (the default
# study's bundles hold 16 MB of parameters and optimizer state).
CHECKPOINT_SECONDS = 5.0


@dataclass
class RunReport:
    """What one ``run_study`` call did."""

    study: str
    db: Path
    n_configs: int
    skipped: int  # already finished when the run started
    trained: int  # trained by this run (another process may have taken some of the rest)
    seconds: float
    engine: str
    notices: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # status -> configurations of this spec
    first_error: str | None = None
    elsewhere: int = 0  # configurations another process was training when this one came to them


@dataclass
class ProgressEvents:
    """Hooks a front end (the CLI's progress bar) listens to; all optional."""

    start: Callable[[int, int], None] = lambda n_configs, total_steps: None
    steps: Callable[[int], None] = lambda config_steps: None
    configs_done: Callable[[int], None] = lambda n: None
    notice: Callable[[str], None] = lambda text: None


def check_device(device: str) -> str:
    """``device`` as torch spells it, after checking that this machine has it."""
    import torch

    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"--device {device!r} is not a device torch knows (try cpu or cuda)") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif resolved.type != "cpu":
        raise ValueError(f"--device {device!r}: initopt studies run on cpu or cuda")
    return str(resolved)


def environment(device: str) -> dict[str, Any]:
    import numpy
    import torch

    import initopt

    env = {
        "initopt": initopt.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "device": device,
        "cpu_threads": torch.get_num_threads(),
    }
    if device.startswith("cuda"):
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def run_study(
    spec: StudySpec | str | Path | Mapping[str, Any],
    *,
    db: str | Path = DEFAULT_DB,
    engine: str = "bundled",
    max_bundle: int | None = None,
    device: str = "cpu",
    retry_failed: bool = False,
    events: ProgressEvents | None = None,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    threads: int | str | None = None,
    execution: Execution | None = None,
) -> RunReport:
    """Train every configuration of ``spec`` not yet finished in ``db``; results go to ``db`` as they come.

    Finished means done, diverged or failed; ``retry_failed`` runs the failed ones again (after an
    out-of-memory error or a wrong ``device``, say). A bundle writes a checkpoint at an epoch's end
    every ``checkpoint_seconds`` (0: every epoch); an interrupted bundle goes on from it on the next
    run. Ctrl-C raises ``StudyInterrupted``. Processes running the same study on the same ``db``
    share its bundles (``store.claims``).

    ``execution`` (default: the spec's ``[execution]``): with ``ray`` set, the bundles run as tasks on
    that Ray cluster (``backends.ray_cluster``) and this process stores what they send back; a bundle's
    device then follows its resources (a GPU when it holds one), not ``device``.
    """
    spec = spec if isinstance(spec, StudySpec) else load_spec(spec)
    execution = execution if execution is not None else spec.execution
    if execution.ray is not None and device != "cpu":
        raise ValueError(f"--device {device}: with --ray a bundle runs on the device its resources give it "
                         "(--gpus-per-bundle, [execution] gpus_per_bundle)")
    device = check_device(device)
    if engine not in ENGINES:
        raise ValueError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if max_bundle is not None and max_bundle < 1:
        raise ValueError(f"--max-bundle must be >= 1, got {max_bundle}")
    events = events or ProgressEvents()
    if spec.search.halving and engine != "bundled":
        raise ValueError("--engine sequential: successive halving ([search] strategy = \"halving\") prunes inside "
                         "bundles; run it with the bundled engine")
    spec = stored_settings(spec, db)
    workload = prepare(spec)
    spec = workload.spec
    threads = threads if threads is not None else spec.train.threads
    if device == "cpu":
        apply_threads(threads)  # before the environment records the count
    backend = _backend(execution, device, threads)
    try:
        return _run(spec, workload, db, engine, max_bundle, retry_failed, events, checkpoint_seconds, backend)
    finally:
        backend.close()


def _backend(execution: Execution, device: str, threads):
    """Where the bundles run: this process, or the Ray cluster ``execution`` names."""
    if execution.ray is None:
        from initopt.study.backends.local import LocalBackend

        return LocalBackend(device, threads)
    from initopt.study.backends.ray_cluster import RayBackend

    return RayBackend(execution, threads)


def _run(spec, workload, db, engine, max_bundle, retry_failed, events, checkpoint_seconds, backend) -> RunReport:
    budget = backend.memory_budget()
    rounds = rounds_of(spec, _round_size(workload, spec, max_bundle, budget, engine))
    started = time.perf_counter()
    with SQLiteStore(db) as store:
        env = backend.environment()
        store.begin_study(spec.name, spec.to_dict(), spec.workload_key(), env)
        report = RunReport(spec.name, Path(db), 0, 0, 0, 0.0, engine)
        ids: set[str] = set()
        owner, run_id = owner_name(), None
        events.start(rounds.total, rounds.total * workload.steps_per_config)
        try:
            for configs in rounds.rounds(store):  # one round, or TPE's asks
                store.add_configs(spec.name, [_config_record(c) for c in configs])
                ids |= {c.id for c in configs}
                if retry_failed:
                    store.reset(spec.name, [row.id for row in store.configs(spec.name)
                                            if row.id in ids and row.status == Status.FAILED])
                todo_ids = set(store.to_run(spec.name, [c.id for c in configs]))
                todo = [c for c in configs if c.id in todo_ids]
                report.n_configs += len(configs)
                report.skipped += len(configs) - len(todo)
                work = _work(store, spec.name, todo, workload, engine, max_bundle, budget, configs)
                saved_steps = sum(len(b) * cp.epoch * workload.steps_per_epoch for b, cp in work if cp is not None)
                events.steps(saved_steps + (len(configs) - len(todo)) * workload.steps_per_config)
                if todo:
                    run_id = run_id if run_id is not None else store.start_run(spec.name, engine, env, len(todo))
                    with Heartbeat(db, spec.name, owner):
                        backend.run(store, workload, work, engine=engine, events=events, report=report,
                                    checkpoint_seconds=checkpoint_seconds, ladder=ladder_of(store, workload),
                                    claim=lambda cs, cp: _claim(store, workload, cs, cp, owner, events, report))
                rounds.tell(store, configs)
            if run_id is not None:
                store.end_run(run_id)
        except KeyboardInterrupt:
            report.seconds = time.perf_counter() - started
            _tally(store, spec.name, ids, report)
            raise StudyInterrupted(report, [cp for cp in store.checkpoints(spec.name) if set(cp.config_ids) <= ids]) from None
        _tally(store, spec.name, ids, report)
    report.seconds = time.perf_counter() - started
    return report


def _round_size(workload, spec: StudySpec, max_bundle, budget: int, engine: str) -> int:
    """Settings per round of a tpe study: as many as one bundle holds (its seeds together)."""
    if spec.search.sampling != "tpe":
        return 0
    if engine == "sequential":
        return 1
    capacity = bundle_capacity(_bytes_per_config(workload), budget, max_bundle)
    return max(1, capacity // len(spec.seeds))


class StudyInterrupted(Exception):
    """Ctrl-C or SIGTERM stopped ``run_study``: what was stored (``report.counts``) and the bundles
    saved part-way (``checkpoints``), from which the next run goes on."""

    def __init__(self, report: RunReport, checkpoints: list):
        super().__init__(f"study {report.study!r} interrupted")
        self.report, self.checkpoints = report, checkpoints


def _tally(store, name: str, ids: set[str], report: RunReport) -> None:
    rows = [row for row in store.configs(name) if row.id in ids]
    report.counts.clear()
    for row in rows:
        report.counts[row.status.value] = report.counts.get(row.status.value, 0) + 1
    report.first_error = next((row.error for row in rows if row.status == Status.FAILED and row.error), None)


def _work(store, name: str, todo: list[Config], workload, engine: str, max_bundle, budget: int,
          planned: list[Config]) -> list[tuple[list[Config], Any]]:
    """The bundles to train, each with the checkpoint it goes on from (or None): first the bundles
    saved part-way whose configurations are all still to run, in their saved order; then the rest,
    planned afresh. A checkpoint that another live process holds is left to it; one that no longer
    fits (some of its configurations finished, larger than ``max_bundle``, or another engine now) is
    dropped."""
    by_id = {c.id: c for c in todo}
    out, taken = [], set()
    held = store.held_elsewhere(name)
    for checkpoint in store.checkpoints(name):
        ids = checkpoint.config_ids
        if any(i in held for i in ids):
            continue  # another live process goes on with it
        fits = engine == "bundled" and (max_bundle is None or len(ids) <= max_bundle)
        if fits and all(i in by_id and i not in taken for i in ids):
            out.append(([by_id[i] for i in ids], checkpoint))
            taken.update(ids)
        else:  # finished since, or now too large (--max-bundle), or another engine: its configurations start over
            store.drop_checkpoint(name, checkpoint.bundle)
    rest = [c for c in todo if c.id not in taken]
    if rest and workload.spec.search.halving:
        out += [(bundle, None) for bundle in _planned_bundles(store, name, rest, planned, workload, max_bundle, budget)]
        return out
    out += [(bundle, None) for bundle in (_bundles(rest, workload, engine, max_bundle, budget) if rest else [])]
    return out


def _planned_bundles(store, name: str, rest: list[Config], planned: list[Config], workload, max_bundle,
                     budget: int) -> list[list[Config]]:
    """A halving study's bundles: the plan of its first run over ``planned`` (the round's configurations;
    stored with them), less the configurations that have ended. Its decisions at a rung depend on which
    configurations reached it before and together, so a study run again must not repack what is left."""
    numbers = store.bundle_numbers(name)
    if any(c.id not in numbers for c in rest):
        fresh = [c for c in planned if c.id not in numbers]
        store.assign_bundles(name, [[c.id for c in b] for b in _bundles(fresh, workload, "bundled", max_bundle, budget)])
        numbers = store.bundle_numbers(name)
    groups: dict[int, list[Config]] = {}
    for config in rest:
        groups.setdefault(numbers[config.id], []).append(config)
    return [bundle_order(groups[n]) for n in sorted(groups)]


def _claim(store, workload, configs, checkpoint, owner, events, report) -> list[Config]:
    """Claim ``configs`` for this process; those it got, in order (another process's share is left to it;
    a saved bundle partly held elsewhere is left whole)."""
    name = workload.spec.name
    claimed = set(store.claim(name, [c.id for c in configs], owner))
    if checkpoint is not None and len(claimed) < len(configs):  # part of a saved bundle is held: leave all of it
        store.release(name, owner, sorted(claimed))
        claimed = set()
    mine = [c for c in configs if c.id in claimed]
    elsewhere = len(configs) - len(mine)
    if elsewhere:
        report.elsewhere += elsewhere
        events.steps(elsewhere * workload.steps_per_config)  # the bar counts them as ended here
    report.trained += len(mine)
    if mine and checkpoint is not None:
        events.notice(f"resuming a bundle of {len(mine)} configurations after epoch {checkpoint.epoch} "
                      f"of {workload.spec.train.epochs}")
    return mine


def stored_settings(spec: StudySpec, db: str | Path) -> StudySpec:
    """``spec`` with its validation setting and its decay rule, where it gives none, taken from the study
    stored in ``db``: a study written before validation splits selected on the test split, one written
    before ``train.no_decay`` decayed every parameter, and resuming it keeps doing so (its
    configurations, their ids and their results stay what they were)."""
    from dataclasses import replace

    if (spec.train.validation is not None and spec.train.no_decay is not None) or not Path(db).is_file():
        return spec
    from initopt.study.store import StoreError

    try:
        with SQLiteStore(db) as store:
            stored = store.study(spec.name).spec
    except StoreError:  # no such study yet (or not a store: run_study says so when it opens it)
        return spec
    train = stored.get("train") or {}
    validation = spec.train.validation if spec.train.validation is not None else train.get("validation", 0.0)
    # a study written before train.no_decay decayed every parameter: resuming it goes on doing so
    no_decay = spec.train.no_decay if spec.train.no_decay is not None else tuple(train.get("no_decay", ()))
    return replace(spec, train=replace(spec.train, validation=validation, no_decay=no_decay))


def _bundles(todo: list[Config], workload: PreparedWorkload, engine: str, max_bundle: int | None, budget: int):
    """``todo`` in bundles of at most ``max_bundle`` configurations, each within ``budget`` bytes."""
    if engine == "sequential":
        return [[c] for c in todo]
    # configurations of other widths or depths: other models, of other sizes
    return [list(b.configs) for group in by_model(todo)
            for b in plan_bundles(group, per_config_bytes=_bytes_per_config(workload, group[0].model_axes),
                                  budget_bytes=budget, max_bundle=max_bundle)]


def _bytes_per_config(workload: PreparedWorkload, axes: dict[str, Any] | None = None) -> int:
    """One configuration's memory inside a bundle: its parameters and optimizer state; the activations
    of a training step (every module's output for one example, measured, times the batch, once for
    the forward and once for the backward) or of an evaluation chunk, whichever is larger; its data
    order for the epoch (two int64 copies) and its outputs kept for the epoch's tally."""
    import torch

    # the one prepare() ran (no factory call of its own), or one at the configurations' width and depth
    model = workload.build_for(axes) if axes else workload.probe_model()
    n_params = sum(p.numel() for p in model.parameters())
    per_example = 0

    def count(module, inputs, output):
        nonlocal per_example
        per_example += output.numel() if isinstance(output, torch.Tensor) else 0

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        with torch.no_grad():  # two examples in eval mode: what prepare() ran (BatchNorm needs two)
            output = model.eval()(workload.train.x[:2])
    finally:
        for handle in handles:
            handle.remove()
    per_example, per_output = per_example // 2, output.numel() // 2
    batch = max(workload.spec.train.batch_size, EVAL_BATCH)
    epoch = len(workload.train) * (2 * 8 // BYTES_PER_FLOAT + per_output)
    return bytes_per_config(n_params, batch * max(per_example, workload.info.n_features) * 2 + epoch)


def ladder_of(store, workload: PreparedWorkload):
    """The ladder that makes a halving study's decisions at its rungs (None for other studies)."""
    from initopt.study.ladder import Ladder

    spec = workload.spec
    if not spec.search.halving:
        return None
    return Ladder(store, spec.name, spec.search.reduction_factor, spec.train.metric, spec.train.rank_by)


def _config_record(config: Config):
    from initopt.study.store import ConfigRecord

    params = {k: v for k, v in config.init.items() if k != "name"}
    return ConfigRecord(id=config.id, init=config.init_label, init_params=params, optimizer=config.optimizer,
                        hyper=dict(config.hyper), seed=config.seed)
