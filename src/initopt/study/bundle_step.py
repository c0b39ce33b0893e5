"""One training step of a bundle: gather, forward, loss, backward, update; and what changes it: frozen
(diverged) configurations and CUDA-graph replay."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch

from initopt.study.bundle_model import HandBatchedMLP
from initopt.study.data_order import DataOrder


class BundleStep:
    """The step of a bundle over ``x``, ``y`` in the order of ``order``.

    Hand-batched models differentiate themselves into gradient buffers at fixed addresses (what a
    CUDA graph's optimizer tables need); any other model goes through autograd. The loss of the
    bundle is the sum of the configurations' losses, so each configuration's gradient is its own; a
    frozen configuration's rows are zeroed in that sum and left out of the optimizer's update.

    With ``cuda_graph``, the step's device work after the gather is captured as a CUDA graph, one per
    batch size, after the step of that size has run eagerly once, and replayed for every later step
    of that size.
    """

    def __init__(self, model, optimizer, loss_fn, loss_gradient, tally, x, y, order: DataOrder, cuda_graph: bool):
        self.model, self.optimizer, self.tally = model, optimizer, tally
        self.loss_fn, self.loss_gradient = loss_fn, loss_gradient
        self.hand = isinstance(model, HandBatchedMLP)
        self.params = None if self.hand else list(model.params.values())
        self.addresses: list[int] = []  # the last step's gradients' addresses (see ``update``)
        self.bound = False
        self.x, self.y, self.order = x, y, order
        self.k = order.k
        self.active = torch.ones(self.k, dtype=torch.bool, device=x.device)
        self.all_active = True
        self.cuda_graph = cuda_graph
        # warm-up steps, captures and replays run on one side stream, as PyTorch's CUDA-graph notes
        # advise: what libraries create lazily per stream is created before the capture, not inside it
        self.stream = torch.cuda.Stream(x.device) if cuda_graph else None
        self.gathered: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # per batch size: x and y buffers
        self.graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}  # per batch size: graph, output
        self.warmed: set[int] = set()  # batch sizes run eagerly since the last capture was dropped

    def epoch(self, check: Callable[[torch.Tensor], bool] | None = None) -> None:
        """All steps of an epoch (the order already drawn); without ``check`` no host sync."""
        with _side_stream(self.stream):
            for start in range(0, self.order.n, self.order.batch_size):
                if not self.step(start, check):
                    break

    def step(self, start: int, check: Callable[[torch.Tensor], bool] | None = None) -> bool:
        """One step on positions ``start : start + batch_size`` of the epoch's order. ``check`` sees the
        losses before the update and returns False when no configuration is left to train."""
        rows = self.order.rows(start)
        m = len(rows) // self.k
        if m not in self.gathered:
            self.gathered[m] = (self.x.new_empty(self.k, m, *self.x.shape[1:]), self.y.new_empty(self.k, m, *self.y.shape[1:]))
        xb, yb = self.gathered[m]
        torch.index_select(self.x, 0, rows, out=xb.view(self.k * m, *self.x.shape[1:]))
        torch.index_select(self.y, 0, rows, out=yb.view(self.k * m, *self.y.shape[1:]))
        if self.cuda_graph:
            output = self._replay(m, xb, yb)
        else:
            output = self.train(xb, yb, check)
            if output is None:
                return False
        if self.tally.deferred:  # where the outputs go depends on the step: outside the graph
            self.tally.record(start, None, output, yb)
        return True

    def _replay(self, m: int, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        entry = self.graphs.get(m)
        if entry is None and m in self.warmed:
            entry = self.graphs[m] = _capture(lambda: self.train(xb, yb, None), self.stream)
        if entry is None:
            self.warmed.add(m)
            return self.train(xb, yb, None)
        entry[0].replay()
        return entry[1]

    def train(self, xb: torch.Tensor, yb: torch.Tensor, check: Callable[[torch.Tensor], bool] | None) -> torch.Tensor | None:
        """Forward, loss, backward and update on the gathered batch; returns the outputs (None when
        ``check`` found no configuration left to train). Device work only, without ``check``."""
        if self.hand:
            output = self.model.forward_train(xb)
            if self.loss_gradient is None:
                output = output.detach().requires_grad_(True)
        else:
            output = self.model.forward(xb)
        losses = total = None
        if self.tally.needs_losses or self.loss_gradient is None:
            with torch.set_grad_enabled(output.requires_grad):
                losses = self.loss_fn(output, yb)
                total = self.masked(losses).sum()
            # one host sync finds a non-finite loss (free on the CPU); the check per configuration follows
            if check is not None and not math.isfinite(total.item()):
                if not check(losses):
                    return None
                total = self.masked(losses).sum()
        if self.hand:
            grad_output = self.loss_gradient(output, yb) if self.loss_gradient else torch.autograd.grad(total, output)[0]
            self.model.backward(grad_output)
            self.optimizer.step()  # the gradients bound at the start, written in place by backward
        else:
            self.update(torch.autograd.grad(total, self.params, allow_unused=True, materialize_grads=True))
        if not self.tally.deferred:
            self.tally.record(0, losses, output, yb)
        return output

    def update(self, grads: tuple[torch.Tensor, ...]) -> None:
        """The optimizer's step from autograd's gradients. Layers that reuse their gradient buffers
        (``BundleContext.reuse_gradients``) hand back the same tensors every step: once two steps'
        gradients sit at the same addresses, they are bound to the optimizer, which then keeps its
        views of them instead of slicing every gradient per configuration run at every step. Bound
        views keep their storage alive, so a later gradient at the same address is the same buffer;
        any other address releases them."""
        addresses = [g.data_ptr() for g in grads]
        if addresses != self.addresses or not all(g.is_contiguous() for g in grads):
            if self.bound:
                self.optimizer.release_gradients()
                self.bound = False
            self.addresses = addresses
            self.optimizer.step(grads)
            return
        if not self.bound:
            self.optimizer.bind_gradients(grads)
            self.bound = True
        self.optimizer.step()

    def masked(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` (one row per configuration) with the frozen configurations' rows zeroed."""
        if self.all_active:
            return values
        return torch.where(self.active.view(-1, *([1] * (values.dim() - 1))), values, torch.zeros_like(values))

    def freeze(self, newly: torch.Tensor) -> None:
        """Leave the configurations ``newly`` out of every later update."""
        self.active.logical_and_(~newly)
        self.all_active = False
        self.optimizer.freeze(newly)
        self.graphs.clear()  # the optimizer's rows and the loss mask changed
        self.warmed.clear()


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
