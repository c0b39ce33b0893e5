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
    optimizer_path: str | None = None,
    check_each_step: bool | None = None,
    cuda_graph: bool | None = None,
    on_epoch: Callable[[list[EpochRecord]], None] = lambda rows: None,
    on_done: Callable[[list[ResultRecord]], None] = lambda results: None,
    on_steps: Callable[[int], None] = lambda config_steps: None,
) -> list[ResultRecord]:
    """Train ``configs`` as one bundle; returns one result per config, in order.

    ``configs`` must be ordered as ``plan_bundles`` orders them: the SGD family, then the Adam family,
    equal hyperparameters adjacent within each. ``check_each_step`` (default: on the CPU) looks for
    non-finite losses after every step; otherwise once per epoch, without a per-step host sync (the
    GPU's default), with the same recorded results. ``optimizer_path``: see
    :class:`initopt.optim.batched.BatchedOptimizer` (default :func:`~initopt.optim.batched.default_path`).

    ``cuda_graph`` (default: on CUDA without ``check_each_step``): an epoch's steps (gather, forward,
    loss, backward, optimizer) are captured once as one CUDA graph and replayed for every later
    epoch, with the data order written into a static index buffer; the first epoch, and the one
    after a configuration is frozen, run eagerly as the capture's warm-up.
    """
    from initopt.optim.batched import BatchedOptimizer, default_path

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
    optimizer_path = optimizer_path or default_path(device)
    optimizer = BatchedOptimizer([flat_params] if flat_params is not None else params, [dict(c.hyper, name=c.optimizer) for c in configs],
                                 path=optimizer_path)
    # the gradient of the flat parameter rows, at one address for every step (a CUDA graph's tables)
    flat_grad = torch.empty_like(flat_params) if flat_params is not None else None
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
    # a graph replays device work only: the optimizer must keep its step count on the device (the
    # Triton path) and see its tensors at the same addresses (the flat rows of hand-batched models)
    graphable = device.type == "cuda" and not check_each_step and optimizer_path == "triton" and flat_grad is not None
    if cuda_graph is None:
        cuda_graph = graphable
    if cuda_graph and not graphable:
        raise ValueError("cuda_graph needs a CUDA device, check_each_step=False, the triton optimizer path "
                         "and a hand-batched model")
    index_buffer = torch.empty(k, n, dtype=torch.long, device=device)
    loss_sum = torch.zeros(k, dtype=torch.float64, device=device)
    metric_sum = torch.zeros(k, dtype=torch.float64, device=device)

    def step(rows_index: torch.Tensor, check: Callable[[torch.Tensor], bool] | None = None) -> bool:
        """One batched step on the rows ``rows_index`` (k, m) of the data. ``check`` sees the losses
        before the update and returns False when no configuration is left to train."""
        m = rows_index.shape[1]
        rows = rows_index.reshape(-1)
        xb = x.index_select(0, rows).view(k, m, *x.shape[1:])
        yb = y.index_select(0, rows).view(k, m, *y.shape[1:])
        output = model.forward(xb)
        losses = loss_fn(output, yb)
        if check is not None and not check(losses):
            return False
        # the sum over configurations leaves each configuration its own gradient
        total = (losses if all_active else torch.where(active, losses, torch.zeros_like(losses))).sum()
        grads = torch.autograd.grad(total, params, allow_unused=True, materialize_grads=True)
        if flat_grad is not None:
            torch.cat([g.reshape(k, -1) for g in grads], dim=1, out=flat_grad)
        optimizer.step([flat_grad] if flat_grad is not None else grads)
        with torch.no_grad():
            loss_sum.add_(losses.detach(), alpha=m)
            metric_sum.add_(metric_fn(output.detach(), yb), alpha=m)
        return True

    def check_now(losses: torch.Tensor) -> bool:
        """Freeze configurations whose loss is non-finite at this step (a host sync: free on the CPU)."""
        nonlocal all_active
        newly = active & ~torch.isfinite(losses)
        if bool(newly.any()):
            all_active = freeze(newly, epoch)
            return bool(active.any())
        return True

    def epoch_steps(check: Callable[[torch.Tensor], bool] | None = None) -> None:
        """All steps of an epoch; without ``check`` no host sync: what a CUDA graph captures."""
        loss_sum.zero_()
        metric_sum.zero_()
        for start in range(0, n, batch_size):
            if not step(index_buffer[:, start : start + batch_size], check):
                break

    graph: torch.cuda.CUDAGraph | None = None
    warm = False  # an eager epoch has run with the present set of active configurations

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
        index_buffer.copy_(torch.stack([orders[c.seed] for c in configs]))
        if check_each_step:
            epoch_steps(check_now)
        elif graph is not None:
            graph.replay()
        elif cuda_graph and warm:
            graph = _capture(epoch_steps)
            graph.replay()
        else:
            epoch_steps()
            warm = True
        if not check_each_step:
            # once per epoch: a configuration whose loss went non-finite at any step has a non-finite
            # sum; it trained on (NaN in its own rows only, every operation is per configuration)
            newly = active & ~torch.isfinite(loss_sum)
            if bool(newly.any()):
                all_active = freeze(newly, epoch)
                graph, warm = None, False  # the optimizer's rows and the loss mask changed
        val_loss, val_metric = _evaluate(model, x_val, y_val, loss_fn, metric_fn)
        # one transfer per epoch, not four per configuration
        train_loss, train_metric = (loss_sum / n).tolist(), (metric_sum / n).tolist()
        val_loss, val_metric = val_loss.tolist(), val_metric.tolist()
        seconds = time.perf_counter() - epoch_started
        rows = []
        for i, config in enumerate(configs):
            if diverged_epoch[i] is not None and diverged_epoch[i] < epoch:
                continue  # frozen in an earlier epoch: nothing more to record
            if diverged_epoch[i] == epoch:
                rows.append(outcomes.nan_epoch(config.id, epoch))
                continue
            row = EpochRecord(config.id, epoch, train_loss[i], train_metric[i], val_loss[i], val_metric[i], seconds)
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


def _capture(fn: Callable[[], None]) -> torch.cuda.CUDAGraph:
    """``fn``'s kernels as a CUDA graph (captured, not run: replay it). The caller has run ``fn``
    eagerly once, so every buffer, table and workspace it touches exists."""
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph


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
