"""Datasets for initopt: built-ins that need no download, and the user's CSV and npz files.

    train, test = initopt.data.load("seed-binary")
    info = train.info                      # task, input_shape, output_dim, default_loss, ...
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True)

``names()`` lists the built-ins; ``describe(name)`` gives a ``DatasetInfo``; file errors raise
``DataError``. See docs/data.md.
"""

from __future__ import annotations

from initopt.data.errors import DataError
from initopt.data.loader import describe, load, names
from initopt.data.types import DatasetInfo, Scaler, Split, Splits, Task

__all__ = ["DataError", "DatasetInfo", "Scaler", "Split", "Splits", "Task", "describe", "load", "names"]
