"""One bundle's run, wherever it runs: the engine called with everything it needs, its results told to a sink.

The same function trains a bundle in the study's own process (the sink writes the store) and in a Ray
worker (the sink streams to the driver, which writes the store): what a bundle does does not depend on
where it runs. It never reads the store; what it needs from it comes in the ``BundleJob``.

A sink has these methods (``backends.sink.StoreSink`` is the one that writes):
``epochs(rows)``, ``done(results)``, ``steps(n)``, ``notice(text)``,
``checkpoint(checkpoint, replaces)`` (the bundle's state after an epoch; ``replaces``: the key of the
checkpoint it supersedes, or None), ``restart(ids)`` (drop the epoch rows of an attempt that starts
over) and ``rung(epoch, configs) -> set of ids`` (successive halving's decision, made from the store).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from initopt.study.spec import Config
from initopt.study.store import EpochRecord


@dataclass
class BundleJob:
    """A bundle to train: its configurations in order and, when it goes on from a checkpoint, that
    checkpoint's state and epoch with each configuration's stored epochs up to it."""

    configs: list[Config]
    state: bytes | None = None
    epoch: int = 0
    history: list[list[EpochRecord]] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.configs]


def bundle_key(ids) -> str:
    """A bundle's name in the checkpoints table: a hash of its configurations' ids."""
    return hashlib.sha256(",".join(sorted(ids)).encode()).hexdigest()[:16]


def run_bundle(workload, job: BundleJob, sink, *, engine: str, device: str, checkpoint_seconds: float,
               halving: bool = False) -> None:
    """Train ``job``'s configurations and tell ``sink`` everything worth storing, as it happens.

    The bundled engine takes a bundle of two or more (or any under successive halving); a model the
    bundled layers cannot take trains its configurations one at a time (``train_sequential``), as
    does the sequential engine. An error of the bundle's own (a user factory's, out of memory) ends
    its unfinished configurations *failed*, with the error: the study goes on."""
    from initopt.study.bundle_model import NotBatchable
    from initopt.study.bundle_state import StaleCheckpoint
    from initopt.study.engine import Halving, Resume, train_bundle
    from initopt.study.sequential import train_sequential
    from initopt.study.store import Checkpoint

    configs, ids = job.configs, job.ids
    ended: set[str] = set()
    keys = [bundle_key(ids)]  # the bundle's, then its survivors' after each compaction (successive halving)
    last_saved = time.perf_counter()

    def save(epoch: int, capture, config_ids: list[str]) -> None:
        nonlocal last_saved
        if time.perf_counter() - last_saved >= checkpoint_seconds:
            now = bundle_key(config_ids)
            sink.checkpoint(Checkpoint(now, tuple(config_ids), epoch, capture()), None if now == keys[-1] else keys[-1])
            if now != keys[-1]:
                keys.append(now)
            last_saved = time.perf_counter()

    def done(results) -> None:
        ended.update(r.config_id for r in results)
        sink.done(results)

    rungs = Halving(workload.spec.search.rungs(workload.spec.train.epochs), sink.rung) if halving else None
    resume = Resume(job.state, job.history) if job.state is not None else None
    train = dict(device=device, on_epoch=sink.epochs, on_done=done, on_steps=sink.steps, on_notice=sink.notice,
                 on_checkpoint=save, halving=rungs)
    started = time.perf_counter()
    models = None
    try:
        if engine == "bundled" and (len(configs) > 1 or rungs is not None):
            try:
                try:
                    train_bundle(workload, configs, resume=resume, **train)
                except StaleCheckpoint as exc:
                    sink.notice(f"{exc}: its {len(configs)} configurations start over")
                    sink.restart(ids)
                    train_bundle(workload, configs, **train)
                return
            except NotBatchable as exc:
                sink.notice(f"{workload.spec.workload.model}: {exc}; training its configurations one at a time"
                            + ("; successive halving needs a bundle: they train every epoch" if halving else ""))
                sink.restart(ids)  # drop any epoch rows of the attempt
                models = getattr(exc, "models", None)
        train_sequential(workload, configs, device=device, on_epoch=sink.epochs, models=models,
                         on_done=lambda results: (done(results), sink.steps(workload.steps_per_config * len(results))))
    except Exception as exc:  # the bundle failed: its unfinished configurations are failed, the study goes on
        elapsed = (time.perf_counter() - started) / len(configs)
        end_failed(sink, [i for i in ids if i not in ended], exc, elapsed, workload.steps_per_config)


def end_failed(sink, unfinished: list[str], error: BaseException, seconds: float, steps_per_config: int) -> None:
    """Configurations ``unfinished`` end *failed* with ``error``: their partial epochs dropped, their
    remaining steps counted as done by the progress bar."""
    from initopt.study import outcomes

    sink.restart(unfinished)
    sink.done([outcomes.failed(i, error, seconds) for i in unfinished])
    sink.steps(steps_per_config * len(unfinished))
