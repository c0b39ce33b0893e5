"""How an engine's run of one configuration becomes the store's records."""

from __future__ import annotations

import math

from initopt.study.store import EpochRecord, ResultRecord, Status


def nan_epoch(config_id: str, epoch: int) -> EpochRecord:
    """The row of the epoch in which a configuration diverged: every value NaN, as ``fit`` records it."""
    return EpochRecord(config_id, epoch, math.nan, math.nan, math.nan, math.nan, 0.0, math.nan, math.nan)


def finished(config_id: str, epochs: list[EpochRecord], diverged_epoch: int | None, wall_seconds: float) -> ResultRecord:
    """Done or diverged, with the final values of the last complete epoch."""
    complete = [e for e in epochs if diverged_epoch is None or e.epoch < diverged_epoch]
    last = complete[-1] if complete else None
    return ResultRecord(
        config_id=config_id,
        status=Status.DIVERGED if diverged_epoch is not None else Status.DONE,
        epochs_run=diverged_epoch if diverged_epoch is not None else len(epochs),
        train_loss=last.train_loss if last else math.nan,
        val_loss=last.val_loss if last else math.nan,
        val_metric=last.val_metric if last else math.nan,
        diverged_epoch=diverged_epoch,
        error=None,
        wall_seconds=wall_seconds,
        test_loss=last.test_loss if last else math.nan,
        test_metric=last.test_metric if last else math.nan,
    )


def failed(config_id: str, error: BaseException, wall_seconds: float) -> ResultRecord:
    return ResultRecord(config_id=config_id, status=Status.FAILED, epochs_run=0, train_loss=math.nan, val_loss=math.nan,
                        val_metric=math.nan, diverged_epoch=None, error=f"{type(error).__name__}: {error}",
                        wall_seconds=wall_seconds)


def pruned(config_id: str, epochs: list[EpochRecord], epoch: int, wall_seconds: float) -> ResultRecord:
    """Stopped by successive halving after ``epoch``, with that epoch's values: not done, not failed."""
    last = epochs[-1] if epochs else None
    return ResultRecord(
        config_id=config_id, status=Status.PRUNED, epochs_run=epoch,
        train_loss=last.train_loss if last else math.nan, val_loss=last.val_loss if last else math.nan,
        val_metric=last.val_metric if last else math.nan, diverged_epoch=None, error=None, wall_seconds=wall_seconds,
        test_loss=last.test_loss if last else math.nan, test_metric=last.test_metric if last else math.nan,
    )
