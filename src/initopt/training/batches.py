"""Turn what users pass as data into batches: ``(x, y)`` tensors, a Dataset, or a built-in split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate


class Batches:
    """Indexable examples: ``len(b)`` examples, ``b.take(indices) -> (x, y)`` on ``device``.

    Tensors and splits are sliced directly; any other Dataset is read item by item and collated,
    so nothing larger than one batch is materialized.
    """

    def __init__(self, data: object, name: str = "data"):
        tensors = _as_tensor_pair(data)
        if tensors is not None:
            self.x, self.y = tensors
            if len(self.x) != len(self.y):
                raise ValueError(f"{name}: x has {len(self.x)} rows but y has {len(self.y)}")
            self.dataset = None
            self.size = len(self.x)
        elif isinstance(data, Dataset) and hasattr(data, "__len__"):
            self.dataset, self.size = data, len(data)  # type: ignore[arg-type]
        else:
            raise ValueError(f"{name} must be (x, y) tensors, a Dataset or an initopt.data split, got {type(data).__name__}")
        if self.size == 0:
            raise ValueError(f"{name} is empty")

    def __len__(self) -> int:
        return self.size

    def take(self, indices: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if self.dataset is None:
            return self.x[indices].to(device, non_blocking=True), self.y[indices].to(device, non_blocking=True)
        x, y = default_collate([self.dataset[int(i)] for i in indices])
        return x.to(device), y.to(device)


def _as_tensor_pair(data: object) -> tuple[torch.Tensor, torch.Tensor] | None:
    pair: Sequence | None = None
    if isinstance(data, (tuple, list)) and len(data) == 2:
        pair = data
    elif isinstance(getattr(data, "tensors", None), tuple) and len(data.tensors) == 2:  # Split, TensorDataset
        pair = data.tensors
    if pair is None:
        return None
    return tuple(torch.as_tensor(v) if isinstance(v, np.ndarray) else v for v in pair)  # type: ignore[return-value]
