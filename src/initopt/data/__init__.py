"""Datasets for initopt: built-ins that need no download, and the user's CSV, npz, text and ratings files.

    train, test = initopt.data.load("seed-binary")
    info = train.info                      # task, input_shape, output_dim, default_loss, ...
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True)

``names()`` lists the built-ins; ``options_of(name)`` the options a dataset takes
(``load("modular-addition", p=113)``); ``describe(name)`` gives a ``DatasetInfo``; file errors raise
``DataError``, bad options ``OptionError``. See docs/data.md.
"""

from __future__ import annotations

from initopt.data.errors import DataError
from initopt.data.loader import describe, load, load_validated, names, options_of
from initopt.data.options import Option, OptionError
from initopt.data.types import DatasetInfo, Scaler, Split, Splits, Task, ValidatedSplits

__all__ = ["DataError", "DatasetInfo", "Option", "OptionError", "Scaler", "Split", "Splits", "Task", "ValidatedSplits",
           "describe", "load", "load_validated", "names", "options_of"]
