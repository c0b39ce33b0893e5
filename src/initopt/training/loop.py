"""``fit`` and ``evaluate``: a Keras-style training loop that fits on one screen.

Extra behaviour (early stopping, monitors) arrives through callbacks. A non-finite loss is a recorded
outcome (``history.diverged``), never an exception.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

import torch

from initopt.optim.schedules import Schedule, scheduler
from initopt.training.batches import Batches
from initopt.training.callbacks import Callback, LoopState
from initopt.training.history import History
from initopt.training.losses import PROBABILITY_LOSSES, LossFn, get_loss, loss_name
from initopt.training.metrics import Metric, MetricFn, get_metric
from initopt.training.progress import ProgressLine

EVAL_BATCH = 1024  # evaluation has no gradients to hold, so larger chunks are cheaper


def fit(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data: object,
    *,
    loss: str | LossFn,
    metrics: Sequence[str | MetricFn] = ("accuracy",),
    epochs: int = 10,
    batch_size: int = 32,
    validation: object | None = None,
    seed: int = 0,
    callbacks: Iterable[Callback] = (),
    verbose: int = 1,
    shuffle: bool = True,
    schedule: Schedule | str | None = None,
) -> History:
    """Train ``model`` with ``optimizer`` on ``data`` for ``epochs``; return the History.

    ``data``/``validation``: ``(x, y)`` tensors, a Dataset, or a split from ``initopt.data.load``.
    Each epoch visits the examples in an order drawn from ``seed``; the global RNG is forked for the
    duration (dropout and friends draw from ``seed`` too), so the same seed gives the same History on
    the CPU and the caller's RNG state is left as it was. ``verbose``: 0 silent, 1 progress bar (on a
    terminal) and a line per epoch, 2 a line per epoch. ``schedule``: a learning-rate
    :class:`~initopt.optim.schedules.Schedule` (or its name) over the ``epochs * steps`` planned
    optimizer steps, applied through ``initopt.optim.schedules.scheduler`` (so the optimizer's
    ``lr`` ends at the schedule's last value); the History then records ``lr``, the first param
    group's lr at each epoch's last step (Keras 2's key; Keras 3 says ``learning_rate``). ``None``
    leaves the lr alone.

    An optimizer with ``train()`` and ``eval()`` (Schedule-Free, whose parameters hold the gradient
    point y while training and the average x while evaluating) is switched by ``fit``: ``train()``
    before each epoch (callbacks see y from ``on_epoch_begin`` to ``on_batch_end``), ``eval()`` after
    its steps, so the validation, ``on_epoch_end``, ``on_train_end`` and the model ``fit`` returns
    see x.
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a whole number >= 0, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    loss_fn = get_loss(loss)
    metric_fns = [get_metric(m, probabilities=loss_name(loss) in PROBABILITY_LOSSES) for m in metrics]
    train = Batches(data, "data")
    held_out = Batches(validation, "validation") if validation is not None else None
    device = _device_of(model)
    steps = math.ceil(len(train) / batch_size)
    history = History(params={"epochs": epochs, "steps": steps, "batch_size": batch_size, "seed": seed})
    lr_schedule = scheduler(optimizer, schedule, epochs * steps) if schedule is not None else None
    state = LoopState(model, optimizer, history, epochs, steps)
    callbacks = list(callbacks)
    for callback in callbacks:
        callback.set_state(state)
    progress = ProgressLine(epochs, steps, bar=None if verbose == 1 else False) if verbose else None
    order_rng = torch.Generator().manual_seed(seed)
    started = time.perf_counter()

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        _each(callbacks, "on_train_begin")
        try:
            for epoch in range(1, epochs + 1):
                _set_mode(optimizer, "train")
                _each(callbacks, "on_epoch_begin", epoch - 1)
                if progress:
                    progress.begin_epoch(epoch)
                order = torch.randperm(len(train), generator=order_rng) if shuffle else torch.arange(len(train))
                logs, steps_done = _train_epoch(model, optimizer, train, order, batch_size, loss_fn, metric_fns, device, progress,
                                                callbacks, lr_schedule)
                _set_mode(optimizer, "eval")
                if steps_done is not None:  # a non-finite loss at step `steps_done`
                    history.diverged, history.diverged_epoch = True, epoch
                    history.record(epoch - 1, {key: math.nan for key in logs})
                    if progress:
                        progress.message(f"Epoch {epoch}/{epochs}: loss became non-finite at step {steps_done}/{steps}; training stopped (diverged)")
                    break
                if held_out is not None:
                    logs.update({f"val_{k}": v for k, v in evaluate(model, held_out, loss=loss_fn, metrics=metric_fns).items()})
                history.record(epoch - 1, logs)
                if progress:
                    progress.end_epoch(steps, logs)
                _each(callbacks, "on_epoch_end", epoch - 1, logs)
                if state.stop_training:
                    break
        finally:  # an interrupted fit hands back x too
            _set_mode(optimizer, "eval")
        _each(callbacks, "on_train_end", history.history)
    history.seconds = time.perf_counter() - started
    return history


def _train_epoch(model, optimizer, train, order, batch_size, loss_fn, metric_fns, device, progress, callbacks, lr_schedule):
    """One pass over ``train``; returns (mean logs, None) or (logs so far, step) at a non-finite loss.
    With ``lr_schedule`` the logs end with the lr of the epoch's last step."""
    model.train()
    sums = {"loss": 0.0, **{m.name: 0.0 for m in metric_fns}}
    seen = 0
    for step, start in enumerate(range(0, len(train), batch_size), start=1):
        x, y = train.take(order[start : start + batch_size], device)
        optimizer.zero_grad(set_to_none=True)
        output = model(x)
        batch_loss = loss_fn(output, y)
        value = batch_loss.item()
        if not math.isfinite(value):
            return sums, step
        batch_loss.backward()
        optimizer.step()
        if lr_schedule is not None:
            lr = optimizer.param_groups[0]["lr"]
            lr_schedule.step()
        n = len(y)
        seen += n
        sums["loss"] += value * n
        with torch.no_grad():
            for metric in metric_fns:
                sums[metric.name] += metric.mean(output.detach(), y).item() * n
        logs = _means(sums, seen, metric_fns)
        if progress:
            progress.update(step, logs)
        _each(callbacks, "on_batch_end", step - 1, logs)
    logs = _means(sums, seen, metric_fns)
    if lr_schedule is not None:
        logs["lr"] = float(lr)
    return logs, None


def _means(sums: dict[str, float], n: int, metric_fns: Sequence[Metric]) -> dict[str, float]:
    """The loss and metrics of ``n`` examples from their sums: each metric's mean, then its finish
    (rmse's root, perplexity's exp) on the mean over all of them, not per batch."""
    logs = {key: total / n for key, total in sums.items()}
    for metric in metric_fns:
        logs[metric.name] = metric.final(logs[metric.name])
    return logs


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    data: object,
    *,
    loss: str | LossFn,
    metrics: Sequence[str | MetricFn | Metric] = ("accuracy",),
    batch_size: int = EVAL_BATCH,
) -> dict[str, float]:
    """Mean loss and metrics over ``data`` in eval mode; the model's train/eval mode is restored."""
    loss_fn = get_loss(loss)
    metric_fns = [m if isinstance(m, Metric) else get_metric(m, probabilities=loss_name(loss) in PROBABILITY_LOSSES) for m in metrics]
    batches = data if isinstance(data, Batches) else Batches(data, "validation")
    device = _device_of(model)
    was_training = model.training
    model.eval()
    sums = {"loss": 0.0, **{m.name: 0.0 for m in metric_fns}}
    try:
        for start in range(0, len(batches), batch_size):
            x, y = batches.take(torch.arange(start, min(start + batch_size, len(batches))), device)
            output = model(x)
            n = len(y)
            sums["loss"] += loss_fn(output, y).item() * n
            for metric in metric_fns:
                sums[metric.name] += metric.mean(output, y).item() * n
    finally:
        model.train(was_training)
    return _means(sums, len(batches), metric_fns)


def has_modes(optimizer: object) -> bool:
    """Whether ``optimizer`` has ``train()`` and ``eval()`` of its own (Schedule-Free's y and x), by duck
    typing; a ``torch.nn.Module`` does not count (its ``train``/``eval`` are the module's)."""
    return (not isinstance(optimizer, torch.nn.Module) and callable(getattr(optimizer, "train", None))
            and callable(getattr(optimizer, "eval", None)))


def _set_mode(optimizer: object, mode: str) -> None:
    """``optimizer.train()`` or ``optimizer.eval()`` where it has both (:func:`has_modes`)."""
    if has_modes(optimizer):
        getattr(optimizer, mode)()


def _device_of(model: torch.nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def _each(callbacks: list[Callback], hook: str, *args) -> None:
    for callback in callbacks:
        getattr(callback, hook)(*args)
