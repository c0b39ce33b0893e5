"""Each configuration's data order in a bundle, drawn from its seed as ``initopt.fit`` draws it."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class DataOrder:
    """Per epoch, one permutation per distinct seed (``torch.randperm`` from a generator seeded with
    it, the same draws as ``fit``), gathered on the device into each configuration's row.

    ``index`` ``(K, n)`` holds the epoch's order; ``step_rows`` holds the same indices step-major, so
    that a step's ``(K, m)`` rows are one contiguous slice, gathered without a copy (:meth:`rows`).
    One order per seed goes to the device (a few hundred KB): stacking K rows on the host and sending
    them (16 MB at K=512) took longer than the epoch's steps.
    """

    def __init__(self, seeds: Sequence[int], n: int, batch_size: int, device: torch.device):
        self.k, self.n, self.batch_size = len(seeds), n, batch_size
        self.generators = {seed: torch.Generator().manual_seed(seed) for seed in sorted(set(seeds))}
        order = list(self.generators)
        self.seed_rows = torch.tensor([order.index(s) for s in seeds], device=device)  # each config's seed's row
        self.index = torch.empty(self.k, n, dtype=torch.long, device=device)
        self.step_rows = torch.empty(self.k * n, dtype=torch.long, device=device)

    def shuffle(self) -> None:
        """Draw the next epoch's order."""
        k, n, batch = self.k, self.n, self.batch_size
        orders = torch.stack([torch.randperm(n, generator=g) for g in self.generators.values()])
        torch.index_select(orders.to(self.index.device), 0, self.seed_rows, out=self.index)
        full = n // batch
        whole = full * batch
        self.step_rows[: k * whole].view(full, k, batch).copy_(self.index[:, :whole].view(k, full, batch).transpose(0, 1))
        self.step_rows[k * whole :].view(k, n - whole).copy_(self.index[:, whole:])

    def rows(self, start: int) -> torch.Tensor:
        """The ``K * m`` example indices of the step over positions ``start : start + m``, config-major."""
        m = min(self.batch_size, self.n - start)
        return self.step_rows[self.k * start : self.k * (start + m)]
