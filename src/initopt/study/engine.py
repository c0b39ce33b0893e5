"""The bundled engine: the configurations of one bundle trained together as one batched computation.

Each configuration keeps what makes it itself: its init scheme and seed (its model is built and
initialized exactly as the sequential engine does, then stacked), its data order (drawn from its
seed, as ``fit`` draws it), and its hyperparameters (per-configuration values in the batched
optimizer). The loss of the bundle is the sum of the configurations' losses, so each configuration's
gradient is its own. A configuration whose loss turns non-finite is frozen (left out of every later
update) and recorded as diverged at that epoch; the others train on.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence

import torch

from initopt.study import outcomes
from initopt.study.bundle_model import HandBatchedMLP, bundle_model
from initopt.study.spec import Config
from initopt.study.store import EpochRecord, ResultRecord
from initopt.study.tally import DeferredTally, RunningTally
from initopt.study.workload import PreparedWorkload
from initopt.training.batched import batched_loss, batched_loss_gradient, batched_metric
from initopt.training.loop import EVAL_BATCH


def train_bundle(
    workload: PreparedWorkload,
    configs: Sequence[Config],
    *,
    device: torch.device | str = "cpu",
    optimizer_path: str | None = None,
    check_each_step: bool = False,
    cuda_graph: bool | None = None,
    on_epoch: Callable[[list[EpochRecord]], None] = lambda rows: None,
    on_done: Callable[[list[ResultRecord]], None] = lambda results: None,
    on_steps: Callable[[int], None] = lambda config_steps: None,
) -> list[ResultRecord]:
    """Train ``configs`` as one bundle; returns one result per config, in order.

    ``configs`` must be ordered as ``plan_bundles`` orders them: the SGD family, then the Adam family,
    equal hyperparameters adjacent within each. Non-finite losses are looked for once per epoch,
    without a per-step host sync; ``check_each_step=True`` looks after every step instead, with the
    same recorded results (a diverging configuration's NaN stays in its own rows, and its recorded
    epoch is the same). ``optimizer_path``: see :class:`initopt.optim.batched.BatchedOptimizer`
    (default :func:`~initopt.optim.batched.default_path`).

    ``cuda_graph`` (default: on CUDA without ``check_each_step``): a step's device work after the
    gather (forward, loss, backward, optimizer) is captured as a CUDA graph, one per batch size, and
    replayed for every later step of that size. The first step of each size runs eagerly as the
    capture's warm-up, so only the bundle's first step and its first short last step are eager (and
    the first ones after a configuration is frozen).
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
    # hand-batched models differentiate themselves into gradient buffers at fixed addresses (what a
    # CUDA graph's optimizer tables need); any other model goes through autograd
    hand = isinstance(model, HandBatchedMLP)
    optimizer_path = optimizer_path or default_path(device)
    optimizer = BatchedOptimizer(model.blocks if hand else params, [dict(c.hyper, name=c.optimizer) for c in configs],
                                 path=optimizer_path)
    if hand:
        optimizer.bind_gradients(model.grad_blocks)
    loss_fn = batched_loss(workload.loss)
    loss_gradient = batched_loss_gradient(workload.loss) if hand else None
    _, metric_fn = batched_metric(workload.metric, workload.loss)
    epochs, batch_size, n = workload.spec.train.epochs, workload.spec.train.batch_size, len(x)
    steps_per_epoch = math.ceil(n / batch_size)
    order_rngs = {seed: torch.Generator().manual_seed(seed) for seed in sorted({c.seed for c in configs})}
    seed_rows = torch.tensor([list(order_rngs).index(c.seed) for c in configs], device=device)  # row of each config's seed
    active = torch.ones(k, dtype=torch.bool, device=device)
    all_active = True
    diverged_epoch: list[int | None] = [None] * k
    history: list[list[EpochRecord]] = [[] for _ in range(k)]

    # a graph replays device work only: the optimizer must keep its step count on the device (the
    # Triton path) and see its tensors at the same addresses (the gradient buffers of hand-batched models)
    graphable = device.type == "cuda" and not check_each_step and optimizer_path == "triton" and hand
    if cuda_graph is None:
        cuda_graph = graphable
    if cuda_graph and not graphable:
        raise ValueError("cuda_graph needs a CUDA device, check_each_step=False, the triton optimizer path "
                         "and a hand-batched model")
    index_buffer = torch.empty(k, n, dtype=torch.long, device=device)  # each configuration's data order
    # the same indices step-major: a step's (k, m) rows are one contiguous slice, gathered without a copy
    step_rows = torch.empty(k * n, dtype=torch.long, device=device)
    full_steps = n // batch_size
    gathered: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # per batch size: the batch's x and y buffers
    # without a per-step check, the built-in losses (their gradient written out) and metrics (not a
    # user callable) are computed once per epoch from the kept outputs; otherwise every step adds them up
    example = model.forward_shared(x[:1])[0, 0] if hand else None  # one configuration's output for one example
    if hand and loss_gradient is not None and not callable(workload.metric) and not check_each_step and \
            DeferredTally.fits(k, n, example, y):
        tally = DeferredTally(k, n, batch_size, example, y, loss_fn, metric_fn)
    else:
        tally = RunningTally(k, n, metric_fn, device)

    graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}  # per batch size: its step's graph, output
    warmed: set[int] = set()  # batch sizes whose step has run eagerly since the last capture was dropped

    def step(start: int, check: Callable[[torch.Tensor], bool] | None = None) -> bool:
        """One batched step on examples ``start : start + batch_size`` of the epoch's order. ``check``
        sees the losses before the update and returns False when no configuration is left to train.
        With CUDA graphs the gather runs on its own and the rest of the step replays the graph of its
        batch size, captured after the step of that size has run eagerly once."""
        m = min(batch_size, n - start)
        rows = step_rows[k * start : k * (start + m)]
        if m not in gathered:
            gathered[m] = (x.new_empty(k, m, *x.shape[1:]), y.new_empty(k, m, *y.shape[1:]))
        xb, yb = gathered[m]
        torch.index_select(x, 0, rows, out=xb.view(k * m, *x.shape[1:]))
        torch.index_select(y, 0, rows, out=yb.view(k * m, *y.shape[1:]))
        if cuda_graph:
            entry = graphs.get(m)
            if entry is None and m in warmed:
                entry = graphs[m] = _capture(lambda: train(xb, yb, None), capture_stream)
            if entry is None:
                output = train(xb, yb, None)
                warmed.add(m)
            else:
                entry[0].replay()
                output = entry[1]
        else:
            output = train(xb, yb, check)
            if output is None:
                return False
        if tally.deferred:  # where the outputs go depends on the step: outside the graph
            tally.record(start, None, output, yb)
        return True

    def train(xb: torch.Tensor, yb: torch.Tensor, check: Callable[[torch.Tensor], bool] | None) -> torch.Tensor | None:
        """Forward, loss, backward and update on the gathered batch; returns the outputs (None when
        ``check`` found no configuration left to train). Device work only, without ``check``."""
        if hand:
            output = model.forward_train(xb)
            if loss_gradient is None:
                output = output.detach().requires_grad_(True)
        else:
            output = model.forward(xb)
        losses = total = None
        if tally.needs_losses or loss_gradient is None:
            with torch.set_grad_enabled(output.requires_grad):
                losses = loss_fn(output, yb)
                # the sum over configurations leaves each configuration its own gradient
                total = masked(losses).sum()
            # one host sync finds a non-finite loss (free on the CPU); the check per configuration follows
            if check is not None and not math.isfinite(total.item()):
                if not check(losses):
                    return None
                total = masked(losses).sum()
        if hand:
            # each configuration's gradient is its own: a frozen one's rows are left out of the update
            grad_output = loss_gradient(output, yb) if loss_gradient else torch.autograd.grad(total, output)[0]
            model.backward(grad_output)
            optimizer.step()  # the gradients bound above, written in place by backward
        else:
            optimizer.step(torch.autograd.grad(total, params, allow_unused=True, materialize_grads=True))
        if not tally.deferred:
            tally.record(0, losses, output, yb)
        return output

    def masked(values: torch.Tensor) -> torch.Tensor:
        """``values`` (one row per configuration) with the frozen configurations' rows zeroed."""
        if all_active:
            return values
        return torch.where(active.view(-1, *([1] * (values.dim() - 1))), values, torch.zeros_like(values))

    def check_now(losses: torch.Tensor) -> bool:
        """Freeze configurations whose loss is non-finite at this step (a host sync: free on the CPU)."""
        nonlocal all_active
        newly = active & ~torch.isfinite(losses)
        if bool(newly.any()):
            all_active = freeze(newly, epoch)
            return bool(active.any())
        return True

    def epoch_steps(check: Callable[[torch.Tensor], bool] | None = None) -> None:
        """All steps of an epoch; without ``check`` no host sync."""
        for start in range(0, n, batch_size):
            if not step(start, check):
                break

    # warm-up steps, captures and replays run on one side stream, as PyTorch's CUDA-graph notes
    # advise: what libraries create lazily per stream is created before the capture, not inside it
    capture_stream = torch.cuda.Stream(device) if cuda_graph else None

    def freeze(newly: torch.Tensor, epoch: int) -> bool:
        """Record ``newly`` as diverged at ``epoch`` and leave them out of every later update."""
        for i in newly.nonzero().flatten().tolist():
            diverged_epoch[i] = epoch
        active.logical_and_(~newly)
        optimizer.freeze(newly)
        return False  # not all active any more

    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        # one order per seed goes to the device (a few hundred KB), and each configuration's row is
        # gathered there: stacking K rows on the host and sending them (16 MB at K=512) took longer
        # than the epoch's steps
        orders = torch.stack([torch.randperm(n, generator=rng) for rng in order_rngs.values()]).to(device)
        torch.index_select(orders, 0, seed_rows, out=index_buffer)
        whole = full_steps * batch_size
        step_rows[: k * whole].view(full_steps, k, batch_size).copy_(
            index_buffer[:, :whole].view(k, full_steps, batch_size).transpose(0, 1))
        step_rows[k * whole :].view(k, n - whole).copy_(index_buffer[:, whole:])
        tally.start(index_buffer)
        with _side_stream(capture_stream):
            epoch_steps(check_now if check_each_step else None)
        train_loss, train_metric = tally.finish()
        if not check_each_step:
            # once per epoch: a configuration whose loss went non-finite at any step has a non-finite
            # mean; it trained on (NaN in its own rows only, every operation is per configuration)
            newly = active & ~torch.isfinite(train_loss)
            if bool(newly.any()):
                all_active = freeze(newly, epoch)
                graphs.clear()  # the optimizer's rows and the loss mask changed
                warmed.clear()
        val_loss, val_metric = _evaluate(model, x_val, y_val, loss_fn, metric_fn)
        # one transfer per epoch, not four per configuration
        train_loss, train_metric = train_loss.tolist(), train_metric.tolist()
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


def _capture(fn: Callable[[], torch.Tensor], stream: torch.cuda.Stream) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
    """``fn``'s kernels as a CUDA graph captured on ``stream`` (not run: replay it), and the tensor
    ``fn`` returns, which each replay writes. The caller has run ``fn`` eagerly once on that stream,
    so every buffer, table and workspace it touches exists.

    ``capture_begin``/``capture_end`` rather than ``torch.cuda.graph``: that context synchronizes
    the device and empties the allocator's cache first, which leaves the device idle while the
    capture is recorded and makes later allocations go back to the driver. Nothing else runs on the
    device meanwhile (the steps queued before run on, on this stream)."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.stream(stream):
        graph.capture_begin()
        try:
            output = fn()
        finally:
            graph.capture_end()
    return graph, output


@contextlib.contextmanager
def _side_stream(stream: torch.cuda.Stream | None):
    """Run the block on ``stream`` after the current stream's work, and make the current stream
    wait for it; without a stream, where it is."""
    if stream is None:
        yield
        return
    current = torch.cuda.current_stream(stream.device)
    stream.wait_stream(current)
    with torch.cuda.stream(stream):
        yield
    current.wait_stream(stream)


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
