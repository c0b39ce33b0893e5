"""A bundle's whole training state at an epoch's end, as bytes: what a checkpoint holds.

Everything the next epoch reads: the stacked parameters and buffers (BatchNorm's running
statistics), the batched optimizer's state, each configuration's data-order and dropout generators,
and which configurations diverged (in which epoch). Restored into a freshly set-up bundle of the same
configurations, training goes on exactly as if it had not stopped: the same numbers, bit for bit.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import torch

from initopt.study.bundle_step import BundleStep

FORMAT = 1  # bump when the layout changes; an older checkpoint is then ignored (its bundle restarts)


class StaleCheckpoint(Exception):
    """A checkpoint that does not fit the bundle set up from it (another format or device, a model
    edited since): the caller drops it and trains the bundle from the start."""


def capture(step: BundleStep, epoch: int, diverged_epoch: Sequence[int | None]) -> bytes:
    """``step``'s state after ``epoch``, serialized (``torch.save``; tensors moved to the CPU)."""
    buffer = io.BytesIO()
    torch.save(_to_cpu(snapshot(step, epoch, diverged_epoch)), buffer)
    return buffer.getvalue()


def snapshot(step: BundleStep, epoch: int, diverged_epoch: Sequence[int | None]) -> dict:
    """``step``'s state after ``epoch`` as a dict of references to its tensors (``capture`` serializes it)."""
    return {
        "format": FORMAT,
        "device": step.x.device.type,
        "epoch": epoch,
        "diverged_epoch": list(diverged_epoch),
        "params": dict(step.model.params),
        "buffers": dict(_buffers(step.model)),
        "optimizer": step.optimizer.state_dict(),
        "order": {seed: g.get_state() for seed, g in step.order.generators.items()},
        "dropout": [g.get_state() for g in _generators(step.model)],
    }


def subset(state: dict, keep: Sequence[int], seeds: Sequence[int]) -> dict:
    """The state of the bundle made of configurations ``keep`` (indices, in order) of ``state``'s:
    every stacked tensor's rows ``keep``, each optimizer segment's rows of them (a segment left with
    none is gone, as it is from an optimizer set up for those configurations), the data-order
    generators of their ``seeds`` and their dropout generators. What successive halving's compaction
    restores into the smaller bundle."""
    k = len(state["diverged_epoch"])
    rows = lambda t, idx: t[idx] if isinstance(t, torch.Tensor) and t.dim() >= 1 else t  # noqa: E731
    index = torch.tensor(list(keep), dtype=torch.long)
    segments, start = [], 0
    for saved in state["optimizer"]["segments"]:  # the decayed group's segments cover 0..K, then the others'
        size = saved["active"].shape[0]
        local = torch.tensor([i - start for i in keep if start <= i < start + size], dtype=torch.long)
        if len(local):
            segments.append({name: [None if t is None else rows(t, local.to(t.device)) for t in value]
                             if isinstance(value, list) else rows(value, local.to(value.device))
                             if isinstance(value, torch.Tensor) else value for name, value in saved.items()})
        start = (start + size) % k
    return {
        **state,
        "diverged_epoch": [state["diverged_epoch"][i] for i in keep],
        "params": {name: rows(t, index.to(t.device)) for name, t in state["params"].items()},
        "buffers": {name: rows(t, index.to(t.device)) for name, t in state["buffers"].items()},
        "optimizer": {**state["optimizer"], "segments": segments},
        "order": {seed: g for seed, g in state["order"].items() if seed in set(seeds)},
        "dropout": [state["dropout"][i] for i in keep] if state["dropout"] else [],
    }


@torch.no_grad()
def restore(step: BundleStep, blob: bytes) -> tuple[int, list[int | None]] | None:
    """Load ``blob`` into ``step`` (set up for the same configurations); returns ``(epoch,
    diverged_epoch)``, or None, touching nothing, when the checkpoint does not fit this bundle: another
    format or device, or tensors of other names or shapes (a model edited since). The bundle then
    starts over."""
    try:
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001  (a checkpoint torch cannot read is one that does not fit)
        return None
    return load(step, state)


@torch.no_grad()
def load(step: BundleStep, state: dict) -> tuple[int, list[int | None]] | None:
    """``restore`` from a state dict (``snapshot``'s, or ``subset``'s of it)."""
    if not _fits(step, state):
        return None
    for name, tensor in step.model.params.items():
        tensor.copy_(state["params"][name])
    for name, tensor in _buffers(step.model):
        tensor.copy_(state["buffers"][name])
    step.optimizer.load_state_dict(_to_device(state["optimizer"], step.x.device))
    for seed, generator in step.order.generators.items():
        generator.set_state(state["order"][seed])
    for generator, saved in zip(_generators(step.model), state["dropout"]):
        generator.set_state(saved)
    return int(state["epoch"]), list(state["diverged_epoch"])


def _fits(step: BundleStep, state: dict) -> bool:
    """Every tensor, generator and optimizer segment of ``state`` has its counterpart in ``step``."""
    if state.get("format") != FORMAT or state.get("device") != step.x.device.type:
        return False
    mine = {**dict(step.model.params), **dict(_buffers(step.model))}
    theirs = {**state["params"], **state["buffers"]}
    if mine.keys() != theirs.keys() or any(mine[k].shape != theirs[k].shape for k in mine):
        return False
    segments = step.optimizer.state_dict()["segments"]
    if len(segments) != len(state["optimizer"]["segments"]):
        return False
    for ours, saved in zip(segments, state["optimizer"]["segments"]):
        if ours["family"] != saved["family"] or ours.keys() != saved.keys():
            return False
    return (set(step.order.generators) == set(state["order"])
            and len(_generators(step.model)) == len(state["dropout"])
            and len(state["diverged_epoch"]) == step.k)


def _buffers(model) -> list[tuple[str, torch.Tensor]]:
    module = getattr(model, "module", None)
    return list(module.named_buffers()) if isinstance(module, torch.nn.Module) else []


def _generators(model) -> list[torch.Generator]:
    context = getattr(model, "context", None)
    return list(getattr(context, "generators", ()))


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


def _to_device(value, device: torch.device):
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device(v, device) for v in value)
    return value
