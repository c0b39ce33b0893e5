"""Address tables for the multi-tensor kernels: which program updates which elements.

Built on the host once per list of tensors and kept (keyed by the tensors' addresses, so a new
gradient allocation builds a new table; a CUDA graph replays the table it captured). Pure
bookkeeping, no Triton: tested on its own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

#: bytes a pointer must be a multiple of for the kernels' 128-bit vector loads
ALIGNMENT = 16
#: elements every block start and end must be a multiple of: what the kernels promise the compiler
#: (``tl.multiple_of(start, 16)``, the same for ``end``) when the tables say ``aligned``
START_MULTIPLE = 16
_CACHE_SIZE = 32


@dataclass(frozen=True)
class Tables:
    """``tensors``: int64 ``(T, 8)`` addresses; ``blocks``: int64 ``(B, 4)`` = (tensor, start, end, row)."""

    tensors: Tensor
    blocks: Tensor
    aligned: bool

    @property
    def programs(self) -> int:
        return int(self.blocks.shape[0])


def block_rows(numel: int, rows: int, block: int, active: Sequence[bool] | None = None) -> np.ndarray:
    """``(start, end, row)`` of every block of a tensor seen as ``rows`` equal rows; a block never
    crosses a row, so each program reads one configuration's hyperparameters. Inactive rows
    (frozen configurations) get no block."""
    if rows < 1 or numel % rows:
        raise ValueError(f"a tensor of {numel} elements does not split into {rows} rows")
    row_len = numel // rows
    if row_len == 0:
        return np.zeros((0, 3), dtype=np.int64)
    per_row = -(-row_len // block)
    starts = np.arange(per_row, dtype=np.int64) * block
    keep = np.arange(rows) if active is None else np.flatnonzero(np.asarray(active, dtype=bool))
    row_starts = keep.astype(np.int64) * row_len
    start = (row_starts[:, None] + starts[None, :]).reshape(-1)
    end = np.repeat(row_starts + row_len, per_row)
    row = np.repeat(keep.astype(np.int64), per_row)
    return np.stack([start, end, row], axis=1)


def build(
    columns: Sequence[Sequence[Tensor | None]],
    *,
    rows: int = 1,
    active: Sequence[bool] | None = None,
    block: int,
    device: torch.device,
) -> Tables:
    """Tables for ``columns[c][t]`` = tensor ``t``'s buffer ``c`` (None: unused, address 0).

    Column 0 holds the parameters; every tensor splits into ``rows`` rows (configurations)."""
    params = columns[0]
    count = len(params)
    addresses = np.zeros((count, 8), dtype=np.int64)
    for c, column in enumerate(columns):
        for t, x in enumerate(column):
            if x is not None:
                addresses[t, c] = x.data_ptr()
    pieces = []
    for t, p in enumerate(params):
        b = block_rows(p.numel(), rows, block, active)
        if len(b):
            pieces.append(np.concatenate([np.full((len(b), 1), t, dtype=np.int64), b], axis=1))
    blocks = np.concatenate(pieces) if pieces else np.zeros((0, 4), dtype=np.int64)
    aligned = block % START_MULTIPLE == 0 and all(tensor_aligned(columns, t, rows) for t in range(count))
    return Tables(
        tensors=torch.from_numpy(addresses).to(device),
        blocks=torch.from_numpy(np.ascontiguousarray(blocks)).to(device),
        aligned=bool(aligned),
    )


def tensor_aligned(columns: Sequence[Sequence[Tensor | None]], t: int, rows: int = 1) -> bool:
    """Tensor ``t``'s buffers (not the step counter, a scalar load) start at 16-byte addresses and
    its rows hold a multiple of 16 elements: its blocks can be read in 128-bit accesses."""
    return (columns[0][t].numel() // rows) % START_MULTIPLE == 0 and all(
        column[t] is None or column[t].data_ptr() % ALIGNMENT == 0 for column in columns[:6])


def build_split(
    columns: Sequence[Sequence[Tensor | None]],
    *,
    rows: int = 1,
    active: Sequence[bool] | None = None,
    block: int,
    device: torch.device,
) -> list[Tables]:
    """:func:`build`, as two launches when some tensors are aligned and some are not (a bias of 10
    elements beside large weights): the aligned ones keep their 128-bit accesses."""
    flags = [tensor_aligned(columns, t, rows) for t in range(len(columns[0]))]
    if all(flags) or not any(flags):
        return [build(columns, rows=rows, active=active, block=block, device=device)]
    return [build([[column[t] for t in range(len(flags)) if flags[t] == want] for column in columns],
                  rows=rows, active=active, block=block, device=device)
            for want in (True, False)]


class TableCache:
    """Tables by the addresses and sizes of their tensors (least recently used dropped first)."""

    def __init__(self, size: int = _CACHE_SIZE):
        self.size = size
        self._tables: OrderedDict[tuple, Tables] = OrderedDict()

    def get(
        self,
        columns: Sequence[Sequence[Tensor | None]],
        *,
        rows: int = 1,
        active: Sequence[bool] | None = None,
        block: int,
        device: torch.device,
    ) -> list[Tables]:
        """The launches' tables for ``columns`` (see :func:`build_split`), made once per addresses."""
        key = (
            str(device), block, rows, None if active is None else tuple(active),
            tuple(p.numel() for p in columns[0]),
            tuple(0 if x is None else x.data_ptr() for column in columns for x in column),
        )  # fmt: skip
        tables = self._tables.get(key)
        if tables is None:
            tables = build_split(columns, rows=rows, active=active, block=block, device=device)
            self._tables[key] = tables
            if len(self._tables) > self.size:
                self._tables.popitem(last=False)
        else:
            self._tables.move_to_end(key)
        return tables
