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
from dataclasses import dataclass

import torch

from initopt.memory import keep_freed_memory
from initopt.study import bundle_state, outcomes
from initopt.study.bundle_model import HandBatchedMLP, NotBatchable, bundle_model
from initopt.study.bundle_step import BundleStep
from initopt.study.data_order import DataOrder
from initopt.study.plan import OWN_PARAMETERS
from initopt.study.spec import Config
from initopt.study.store import EpochRecord, ResultRecord, Status
from initopt.study.tally import DeferredTally, RunningTally
from initopt.study.workload import PreparedWorkload
from initopt.training.batched import batched_loss, batched_loss_gradient, batched_metric, metric_parts
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
    on_notice: Callable[[str], None] = lambda text: None,
    on_checkpoint: Callable[[int, Callable[[], bytes], list[str]], None] | None = None,
    resume: Resume | None = None,
    halving: Halving | None = None,
) -> list[ResultRecord]:
    """Train ``configs`` as one bundle; returns one result per config, in order.

    ``configs`` must be ordered as ``plan_bundles`` orders them: the SGD family, then the Adam family,
    equal hyperparameters adjacent within each. Non-finite losses are looked for once per epoch,
    without a per-step host sync; ``check_each_step=True`` looks after every step instead, with the
    same recorded results (a diverging configuration's NaN stays in its own rows, and its recorded
    epoch is the same). ``optimizer_path``: see :class:`initopt.optim.batched.BatchedOptimizer`
    (default :func:`~initopt.optim.batched.default_path`). ``cuda_graph`` (default: on CUDA without
    ``check_each_step``, for hand-batched models): see :class:`~initopt.study.bundle_step.BundleStep`.
    ``on_notice`` hears of layers that went through the generic (vmap) path.

    ``on_checkpoint(epoch, capture, ids)``: called after each epoch but the last (its rows already given
    to ``on_epoch``); ``capture()`` serializes the state of the bundle of configurations ``ids``
    (``bundle_state``), to be passed back as ``resume`` to go on after that epoch with results
    identical to an uninterrupted run.

    ``halving``: after each of its rung epochs, the configurations it does not keep end *pruned* (their
    results go to ``on_done`` then) and the rest go on as a smaller bundle (compaction: their rows of
    every stacked tensor, optimizer state and generator, restored into a bundle set up for them), with
    the numbers they would have had in the whole bundle.
    """
    started = time.perf_counter()
    device = torch.device(device)
    if device.type == "cpu":
        keep_freed_memory()
    run = _setup(workload, configs, device, optimizer_path, check_each_step, cuda_graph, on_notice)
    step, k, epochs = run.step, len(configs), workload.spec.train.epochs
    configs_at_start = list(configs)
    results: dict[str, ResultRecord] = {}  # those that ended before the last epoch (pruned at a rung)
    diverged_epoch: list[int | None] = [None] * k
    history: list[list[EpochRecord]] = [[] for _ in range(k)]
    first = 1
    restored = bundle_state.restore(step, resume.state) if resume is not None else None
    if resume is not None and restored is None:
        raise bundle_state.StaleCheckpoint("the checkpoint does not fit this bundle (another device or an edited model)")
    if restored is not None:
        last, diverged_epoch = restored
        first, history = last + 1, [list(rows) for rows in resume.history]
        frozen = torch.tensor([d is not None for d in diverged_epoch], device=device)
        if bool(frozen.any()):
            step.freeze(frozen)

    def freeze(newly: torch.Tensor, epoch: int) -> None:
        for i in newly.nonzero().flatten().tolist():
            diverged_epoch[i] = epoch
        step.freeze(newly)

    def check_now(losses: torch.Tensor) -> bool:
        """Freeze configurations whose loss is non-finite at this step (a host sync: free on the CPU)."""
        newly = step.active & ~torch.isfinite(losses)
        if bool(newly.any()):
            freeze(newly, epoch)
        return bool(step.active.any())

    for epoch in range(first, epochs + 1):
        epoch_started = time.perf_counter()
        step.order.shuffle()
        step.tally.start(step.order.index)
        step.optimizer.train()  # as fit: Schedule-Free's parameters hold y for the steps,
        step.epoch(check_now if check_each_step else None)
        step.optimizer.eval()  # and x for the evaluation, the checkpoint and the end
        train_loss, train_metric = step.tally.finish()
        # once per epoch: a configuration whose loss went non-finite at any step has a non-finite mean;
        # it trained on (NaN in its own rows only, every operation is per configuration)
        newly = step.active & ~torch.isfinite(train_loss)
        if not check_each_step and bool(newly.any()):
            freeze(newly, epoch)
        held_out = [_evaluate(step.model, x, y, step.loss_fn, run.metric_fn) for x, y in run.held_out]
        rows = _epoch_rows(configs, epoch, diverged_epoch, history, train_loss, train_metric, *held_out[0],
                           *held_out[-1], time.perf_counter() - epoch_started)
        on_epoch(rows)
        # every configuration that ended this epoch counts its remaining steps as done (after the checkpoint)
        ended = sum(1 for d in diverged_epoch if d == epoch)
        done_steps = (len(rows) - ended) * run.steps_per_epoch + ended * (epochs - epoch + 1) * run.steps_per_epoch
        if halving is not None and epoch in halving.epochs and epoch < epochs:
            share = (time.perf_counter() - started) / len(configs_at_start)
            ending, survivors = _rung(halving, epoch, configs, history, diverged_epoch, share)
            if ending:  # the rest go on as a smaller bundle
                results.update({r.config_id: r for r in ending})
                on_done(ending)
                done_steps += sum(r.status is Status.PRUNED for r in ending) * (epochs - epoch) * run.steps_per_epoch
                if not survivors:
                    break
                run = _compact(run, workload, configs, survivors, epoch, diverged_epoch, device, optimizer_path,
                               check_each_step, cuda_graph, on_notice)
                step, k = run.step, len(survivors)
                configs, history = [configs[i] for i in survivors], [history[i] for i in survivors]
                diverged_epoch = [None] * k
        if on_checkpoint is not None and epoch < epochs and bool(step.active.any()):
            on_checkpoint(epoch, lambda: bundle_state.capture(step, epoch, diverged_epoch), [c.id for c in configs])
        on_steps(done_steps)
        if not bool(step.active.any()):
            break

    per_config = (time.perf_counter() - started) / len(configs_at_start)  # the bundle's time, shared out
    last = [outcomes.finished(c.id, history[i], diverged_epoch[i], per_config) for i, c in enumerate(configs)]
    on_done(last)
    results.update({r.config_id: r for r in last})
    return [results[c.id] for c in configs_at_start]


@dataclass
class Halving:
    """Successive halving inside a bundle: after each epoch of ``epochs`` (the rungs),
    ``keep(epoch, configs)`` says which of the configurations still training go on (their ids)."""

    epochs: Sequence[int]
    keep: Callable[[int, list[Config]], set[str]]


def _rung(halving: Halving, epoch: int, configs, history, diverged_epoch, share: float):
    """At a rung: the results of the configurations that end here (pruned; or diverged earlier, ending
    with the bundle they leave) and the indices of those that go on."""
    kept = halving.keep(epoch, [c for c, d in zip(configs, diverged_epoch) if d is None])
    survivors = [i for i, (c, d) in enumerate(zip(configs, diverged_epoch)) if d is None and c.id in kept]
    if len(survivors) == len(configs):
        return [], survivors
    going_on = set(survivors)
    ending = [outcomes.pruned(c.id, history[i], epoch, share) if diverged_epoch[i] is None
              else outcomes.finished(c.id, history[i], diverged_epoch[i], share)
              for i, c in enumerate(configs) if i not in going_on]
    return ending, survivors


def _compact(run: _Run, workload, configs, survivors, epoch, diverged_epoch, device, optimizer_path, check_each_step,
             cuda_graph, on_notice) -> _Run:
    """The bundle of configurations ``survivors`` (indices into ``configs``), set up afresh and given their
    rows of ``run``'s state after ``epoch``: it trains on as they would have in the larger bundle."""
    state = bundle_state.subset(bundle_state.snapshot(run.step, epoch, diverged_epoch), survivors,
                                [configs[i].seed for i in survivors])
    smaller = _setup(workload, [configs[i] for i in survivors], device, optimizer_path, check_each_step, cuda_graph,
                     on_notice)
    if bundle_state.load(smaller.step, state) is None:
        raise RuntimeError("compacting the bundle: the survivors' state does not fit the bundle set up for them")
    return smaller


@dataclass
class Resume:
    """Where an interrupted bundle goes on from: its checkpoint's state and each configuration's
    stored epochs up to that checkpoint (in the bundle's order)."""

    state: bytes
    history: list[list[EpochRecord]]


@dataclass
class _Run:
    step: BundleStep
    held_out: list[tuple[torch.Tensor, torch.Tensor]]  # (x, y) of the validation split, then the test split's
    metric_fn: Callable
    steps_per_epoch: int


def _setup(workload, configs, device, optimizer_path, check_each_step, cuda_graph, on_notice) -> _Run:
    """Everything a bundle's epochs need: the configurations' models (built and initialized exactly as
    the sequential engine does) stacked into one, the batched optimizer, the loss, the tally, the data
    on the device and each configuration's data order."""
    from initopt.optim.batched import BatchedOptimizer, default_path

    k = len(configs)
    models = [workload.initialized_model(config) for config in configs]
    x, y = workload.train.x.to(device), workload.train.y.to(device)
    decayed = workload.decayed_names(models[0])  # which parameters weight decay takes (train.no_decay)
    muon = any(c.optimizer == "muon" for c in configs)
    is_matrix = workload.muon_matrices(models[0]) if muon else {}  # which parameters Muon steps (the rest: its AdamW)
    own = any(c.optimizer in OWN_PARAMETERS for c in configs)  # each parameter as the model has it
    # muP: each parameter's lr and weight-decay multipliers (one width and parametrization per bundle)
    mup = workload.mup_scales(models[0], configs[0]) if configs[0].model_axes.get("parametrization") == "mup" else None
    try:
        model = bundle_model(models, x[:2], device, seeds=[c.seed for c in configs], decayed=decayed,
                             hand=not own and mup is None)
    except NotBatchable as exc:  # the caller trains these very models one at a time (no second build)
        exc.models = models
        raise
    del models
    for layer in getattr(model, "generic", ()):
        on_notice(f"{workload.spec.workload.model}: layer {layer} has no bundled layer; it runs through torch.func.vmap")
    hand = isinstance(model, HandBatchedMLP)
    optimizer_path = optimizer_path or default_path(device)
    hypers = [dict(c.optimizer_hyper, name=c.optimizer) for c in configs]
    # the bundle's parameters under the names the template model gives them (for the per-parameter settings)
    names = model.template_names() if hasattr(model, "template_names") else {}
    templates = [] if hand else [names.get(name, name) for name in model.params]
    flags = model.block_decay if hand else [decayed[name] for name in templates]
    matrices = [is_matrix[name] for name in templates] if muon else None
    scales = [mup[name] for name in templates] if mup is not None else None
    optimizer = BatchedOptimizer(model.blocks if hand else list(model.params.values()), hypers, path=optimizer_path,
                                 decay=flags, total_steps=workload.steps_per_config, matrix=matrices, scales=scales)
    if hand:
        optimizer.bind_gradients(model.grad_blocks)
    loss_fn = batched_loss(workload.loss)
    loss_gradient = batched_loss_gradient(workload.loss) if hand else None
    _, metric_fn = batched_metric(workload.metric, workload.loss)
    batch_size, n = workload.spec.train.batch_size, len(x)
    # a graph replays device work only: the optimizer must keep its step count on the device (the
    # Triton path) and see its tensors at the same addresses (the gradient buffers of hand-batched models)
    graphable = device.type == "cuda" and not check_each_step and optimizer_path == "triton" and hand
    if cuda_graph and not graphable:
        raise ValueError("cuda_graph needs a CUDA device, check_each_step=False, the triton optimizer path "
                         "and a hand-batched model")
    # without a per-step check, the built-in losses (their gradient written out) and metrics (not a
    # user callable) are computed once per epoch from the kept outputs; otherwise every step adds them up
    example = model.forward_shared(x[:1])[0, 0] if hand else None  # one configuration's output for one example
    if hand and loss_gradient is not None and not callable(workload.metric) and not check_each_step and \
            DeferredTally.fits(k, n, example, y):
        tally = DeferredTally(k, n, batch_size, example, y, loss_fn, metric_fn)
    else:
        tally = RunningTally(k, n, metric_fn, device)
    order = DataOrder([c.seed for c in configs], n, batch_size, device)
    step = BundleStep(model, optimizer, loss_fn, loss_gradient, tally, x, y, order,
                      graphable if cuda_graph is None else cuda_graph)
    held_out = [(split.x.to(device), split.y.to(device)) for split in (workload.val, workload.test) if split is not None]
    return _Run(step, held_out, metric_fn, math.ceil(n / batch_size))


def _epoch_rows(configs, epoch, diverged_epoch, history, train_loss, train_metric, val_loss, val_metric, test_loss,
                test_metric, seconds):
    """The epoch's records: one per configuration still training, a NaN row for one that diverged in
    it, none for one frozen earlier. One transfer per epoch, not six per configuration."""
    train_loss, train_metric = train_loss.tolist(), train_metric.tolist()
    val_loss, val_metric = val_loss.tolist(), val_metric.tolist()
    test_loss, test_metric = test_loss.tolist(), test_metric.tolist()
    rows = []
    for i, config in enumerate(configs):
        if diverged_epoch[i] is not None and diverged_epoch[i] < epoch:
            continue
        if diverged_epoch[i] == epoch:
            rows.append(outcomes.nan_epoch(config.id, epoch))
            continue
        row = EpochRecord(config.id, epoch, train_loss[i], train_metric[i], val_loss[i], val_metric[i], seconds,
                          test_loss[i], test_metric[i])
        history[i].append(row)
        rows.append(row)
    return rows


@torch.no_grad()
def _evaluate(model, x, y, loss_fn, metric_fn) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss and metric per configuration over the held-out set, in chunks as ``evaluate`` does (a
    metric that is a function of a mean, rmse or perplexity, finished once over the whole set)."""
    mean_fn, finish = metric_parts(metric_fn)
    loss_sum = metric_sum = None
    chunk = model.eval_batch(x) if hasattr(model, "eval_batch") else EVAL_BATCH
    for start in range(0, len(x), chunk):
        xc, yc = x[start : start + chunk], y[start : start + chunk]
        output = model.forward_shared(xc)
        target = yc.unsqueeze(0).expand(output.shape[0], *yc.shape)
        chunk_loss = loss_fn(output, target).double() * len(yc)
        chunk_metric = mean_fn(output, target).double() * len(yc)
        loss_sum = chunk_loss if loss_sum is None else loss_sum + chunk_loss
        metric_sum = chunk_metric if metric_sum is None else metric_sum + chunk_metric
    metric = metric_sum / len(x)
    return loss_sum / len(x), metric if finish is None else finish(metric)
