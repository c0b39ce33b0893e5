"""The sequential engine: each configuration alone through ``initopt.fit``. The oracle of the bundled engine."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch

from initopt.memory import keep_freed_memory
from initopt.study import outcomes
from initopt.study.spec import Config
from initopt.study.store import EpochRecord, ResultRecord
from initopt.study.workload import PreparedWorkload
from initopt.training import Callback, evaluate, fit


class _EpochSink(Callback):
    """Keeps each finished epoch's values, the test split's included, and hands them to ``on_epoch``
    as they come. Without a validation split the test split is the validation data: its values are
    the validation values."""

    def __init__(self, config_id: str, emit: Callable[[list[EpochRecord]], None], workload: PreparedWorkload):
        self.config_id, self.emit, self.workload = config_id, emit, workload
        self.rows: list[EpochRecord] = []
        self.last = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs, metric = logs or {}, self.workload.metric
        val_loss, val_metric = logs.get("val_loss", math.nan), logs.get("val_" + metric, math.nan)
        test_loss, test_metric = (val_loss, val_metric) if self.workload.val is None else (math.nan, math.nan)
        if self.workload.val is not None and math.isfinite(logs.get("loss", math.nan)):
            test = evaluate(self.state.model, self.workload.test, loss=self.workload.loss, metrics=(metric,))
            test_loss, test_metric = test["loss"], test[metric]
        now = time.perf_counter()
        row = EpochRecord(self.config_id, epoch + 1, logs.get("loss", math.nan), logs.get(metric, math.nan),
                          val_loss, val_metric, now - self.last, test_loss, test_metric)
        self.rows.append(row)
        self.emit([row])
        self.last = now


def train_sequential(
    workload: PreparedWorkload,
    configs: Sequence[Config],
    *,
    device: str = "cpu",
    on_epoch: Callable[[list[EpochRecord]], None] = lambda rows: None,
    on_done: Callable[[list[ResultRecord]], None] = lambda results: None,
    models: Sequence | None = None,
) -> list[ResultRecord]:
    """Train every config one after another; each outcome goes to ``on_done`` as soon as it is known.

    ``models``: the configurations' models already built and initialized (a bundle that could not be
    bundled hands over its own), else each is built here."""
    if torch.device(device).type == "cpu":
        keep_freed_memory()
    results = []
    for i, config in enumerate(configs):
        started = time.perf_counter()
        try:
            model = (models[i] if models is not None else workload.initialized_model(config)).to(device)
            optimizer = workload.optimizer(model, config)
            sink = _EpochSink(config.id, on_epoch, workload)
            history = fit(model, optimizer, workload.train, loss=workload.loss, metrics=(workload.metric,),
                          epochs=workload.spec.train.epochs, batch_size=workload.spec.train.batch_size,
                          validation=workload.selection, seed=config.seed, callbacks=[sink], verbose=0,
                          schedule=config.schedule)
        except Exception as exc:  # one failing config is a recorded outcome, not the end of the study
            result = outcomes.failed(config.id, exc, time.perf_counter() - started)
        else:
            if history.diverged:
                on_epoch([outcomes.nan_epoch(config.id, history.diverged_epoch)])
            result = outcomes.finished(config.id, sink.rows, history.diverged_epoch, time.perf_counter() - started)
        results.append(result)
        on_done([result])
    return results
