"""The bundled engine: the configurations of one bundle trained together as one batched computation.

Each configuration keeps what makes it itself: its init scheme and seed (its model is built and
initialized exactly as the sequential engine does, then stacked), its data order (drawn from its
seed, as ``fit`` draws it), and its hyperparameters (per-configuration values in the batched
optimizer). The loss of the bundle is the sum of the configurations' losses, so each configuration's
gradient is its own. A configuration whose loss turns non-finite is frozen (left out of every later
update) and recorded as diverged at that epoch; the others train on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch

from initopt.study import outcomes
from initopt.study.bundle_model import bundle_model
from initopt.study.spec import Config
from initopt.study.store import EpochRecord, ResultRecord
from initopt.study.workload import PreparedWorkload
from initopt.training.batched import batched_loss, batched_metric
from initopt.training.loop import EVAL_BATCH


def train_bundle(
    workload: PreparedWorkload,
    configs: Sequence[Config],
    *,
    device: torch.device | str = "cpu",
    optimizer_path: str = "fast",
    check_each_step: bool | None = None,
    on_epoch: Callable[[list[EpochRecord]], None] = lambda rows: None,
    on_done: Callable[[list[ResultRecord]], None] = lambda results: None,
    on_steps: Callable[[int], None] = lambda config_steps: None,
) -> list[ResultRecord]:
    """Train ``configs`` as one bundle; returns one result per config, in order.

    ``configs`` must be ordered as ``plan_bundles`` orders them: the SGD family, then the Adam family,
    equal hyperparameters adjacent within each. ``check_each_step`` (default: on the CPU) looks for
    non-finite losses after every step; otherwise once per epoch, without a per-step host sync (the
    GPU's default), with the same recorded results.
    """""
    from initopt.optim.batched import BatchedOptimizer

    started = time.perf_counter()
    device = torch.device(device)
    k = len(configs)
    models = [workload.initialized_model(config) for config in configs]
    x, y = workload.train.x.to(device), workload.train.y.to(device)
    x_val, y_val = workload.test.x.to(device), workload.test.y.to(device)
    model = bundle_model(models, x[:2], device)
    del models
    params = list(model.params.values())
    flat_params = getattr(model, "flat", None)  # one (K, P) tensor holding every parameter, when the model has one
    optimizer = BatchedOptimizer([flat_params] if flat_params is not None else params, [dict(c.hyper, name=c.optimizer) for c in configs],
                                 path=optimizer_path)
    loss_fn = batched_loss(workload.loss)
    _, metric_fn = batched_metric(workload.metric, workload.loss)
    epochs, batch_size, n = workload.spec.train.epochs, workload.spec.train.batch_size, len(x)
    steps_per_epoch = math.ceil(n / batch_size)
    order_rngs = {seed: torch.Generator().manual_seed(seed) for seed in sorted({c.seed for c in configs})}
    active = torch.ones(k, dtype=torch.bool, device=device)
    all_active = True
    diverged_epoch: list[int | None] = [None] * k
    history: list[list[EpochRecord]] = [[] for _ in range(k)]

    if check_each_step is None:
        check_each_step = device.type == "cpu"

    def freeze(newly: torch.Tensor, epoch: int) -> bool:
        """Record ``newly`` as diverged at ``epoch`` and leave them out of every later update."""
        for i in newly.nonzero().flatten().tolist():
            diverged_epoch[i] = epoch
        active.logical_and_(~newly)
        optimizer.freeze(newly)
        return False  # not all active any more

    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        orders = {seed: torch.randperm(n, generator=rng) for seed, rng in order_rngs.items()}
        index = torch.stack([orders[c.seed] for c in configs]).to(device)
        loss_sum = torch.zeros(k, dtype=torch.float64, device=device)
        metric_sum = torch.zeros(k, dtype=torch.float64, device=device)
        for start in range(0, n, batch_size):
            batch = index[:, start : start + batch_size]
            m = batch.shape[1]
            rows = batch.reshape(-1)
            xb = x.index_select(0, rows).view(k, m, *x.shape[1:])
            yb = y.index_select(0, rows).view(k, m, *y.shape[1:])
            output = model.forward(xb)
            losses = loss_fn(output, yb)
            if check_each_step:
                newly = active & ~torch.isfinite(losses)
                if bool(newly.any()):  # a host sync: free on the CPU
                    all_active = freeze(newly, epoch)
                    if not bool(active.any()):
                        break
            # the sum over configurations leaves each configuration its own gradient
            total = (losses if all_active else torch.where(active, losses, torch.zeros_like(losses))).sum()
            grads = torch.autograd.grad(total, params, allow_unused=True, materialize_grads=True)
            optimizer.step([torch.cat([g.reshape(k, -1) for g in grads], dim=1)] if flat_params is not None else grads)
            with torch.no_grad():
                loss_sum.add_(losses.detach(), alpha=m)
                metric_sum.add_(metric_fn(output.detach(), yb), alpha=m)
        if not check_each_step:
            # once per epoch: a configuration whose loss went non-finite at any step has a non-finite
            # sum; it trained on (NaN in its own rows only, every operation is per configuration)
            newly = active & ~torch.isfinite(loss_sum)
            if bool(newly.any()):
                all_active = freeze(newly, epoch)
        val_loss, val_metric = _evaluate(model, x_val, y_val, loss_fn, metric_fn)
        seconds = time.perf_counter() - epoch_started
        rows = []
        for i, config in enumerate(configs):
            if diverged_epoch[i] is not None and diverged_epoch[i] < epoch:
                continue  # frozen in an earlier epoch: nothing more to record
            if diverged_epoch[i] == epoch:
                rows.append(outcomes.nan_epoch(config.id, epoch))
                continue
            row = EpochRecord(config.id, epoch, float(loss_sum[i] / n), float(metric_sum[i] / n),
                              float(val_loss[i]), float(val_metric[i]), seconds)
            history[i].append(row)
            rows.append(row)
        on_epoch(rows)
        # every configuration that ended this epoch counts its remaining steps as done
        ended = sum(1 for d in diverged_epoch if d == epoch)
        on_steps((len(rows) - ended) * steps_per_epoch + ended * (epochs - epoch + 1) * steps_per_epoch)
        if not bool(active.any()):
            break

    per_config = (time.perf_counter() - started) / k  # the bundle's time, shared out
    results = [outcomes.finished(c.id, history[i], diverged_epoch[i], per_config) for i, c in enumerate(configs)]
    on_done(results)
    return results


@torch.no_grad()
def _evaluate(model, x, y, loss_fn, metric_fn) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss and metric per configuration over the held-out set, in chunks as ``evaluate`` does."""
    loss_sum = metric_sum = None
    for start in range(0, len(x), EVAL_BATCH):
        xc, yc = x[start : start + EVAL_BATCH], y[start : start + EVAL_BATCH]
        output = model.forward_shared(xc)
        target = yc.unsqueeze(0).expand(output.shape[0], *yc.shape)
        chunk_loss = loss_fn(output, target).double() * len(yc)
        chunk_metric = metric_fn(output, target).double() * len(yc)
        loss_sum = chunk_loss if loss_sum is None else loss_sum + chunk_loss
        metric_sum = chunk_metric if metric_sum is None else metric_sum + chunk_metric
    return loss_sum / len(x), metric_sum / len(x)
