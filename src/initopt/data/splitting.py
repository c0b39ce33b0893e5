"""The deterministic train/test split used where a source has no test set of its own.

80/20 (``TEST_FRACTION``), shuffled with a fixed seed (``SPLIT_SEED``), stratified by class for
classification so both parts keep the class proportions. It is scikit-learn's ``train_test_split``
(test size rounded up), so the same rows land in the same part on every machine and call.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from initopt.data.errors import DataError

TEST_FRACTION = 0.2
SPLIT_SEED = 0
# "80/20", for messages and descriptions.
SPLIT_NAME = f"{round(100 * (1 - TEST_FRACTION))}/{round(100 * TEST_FRACTION)}"
# Standardization needs at least two rows to mean anything, and so does a test accuracy.
MIN_ROWS_PER_SPLIT = 2


def split_sizes(n: int, fraction: float = TEST_FRACTION) -> tuple[int, int]:
    """``(n_train, n_test)`` for ``n`` rows: the test part is ``ceil(fraction * n)``."""
    n_test = math.ceil(fraction * n)
    return n - n_test, n_test


# The fewest rows that split into parts of at least MIN_ROWS_PER_SPLIT (6 for 80/20 and 2).
MIN_ROWS = next(m for m in itertools.count(1) if min(split_sizes(m)) >= MIN_ROWS_PER_SPLIT)


def split_indices(
    y: np.ndarray, stratify: bool, where: str, classes: tuple[str, ...] = (), fraction: float = TEST_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, test)`` for targets ``y``; ``where`` (the file) starts error messages.

    ``classes`` names the class indices in ``y`` for messages (``classes[i]`` is class ``i``).
    ``fraction``: the share of rows in the second part (a validation split passes its own).

    Raises:
        DataError: too few rows for ``MIN_ROWS_PER_SPLIT`` in each part, or (stratified) a class
            with a single row or more classes than rows in a part.
    """
    n = len(y)
    n_train, n_test = split_sizes(n, fraction)
    if min(n_train, n_test) < MIN_ROWS_PER_SPLIT:
        name = SPLIT_NAME if fraction == TEST_FRACTION else f"{round(100 * (1 - fraction))}/{round(100 * fraction)}"
        need = next(m for m in itertools.count(1) if min(split_sizes(m, fraction)) >= MIN_ROWS_PER_SPLIT)
        raise DataError(
            f"{where}: {n} rows are too few to split {name} "
            f"with at least {MIN_ROWS_PER_SPLIT} rows per part; need at least {need} rows"
        )
    if stratify:
        present, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            lonely = present[counts.argmin()]
            label = classes[int(lonely)] if classes else str(lonely)
            raise DataError(
                f"{where}: class {label!r} has only 1 row; a stratified split needs at least 2 rows "
                "per class (add rows or merge rare classes)"
            )
        if len(present) > min(n_train, n_test):
            raise DataError(
                f"{where}: {len(present)} classes but only {min(n_train, n_test)} rows in a part; a stratified split needs "
                "at least one row of each class in each part (add rows)"
            )
    from sklearn.model_selection import train_test_split  # ~0.5 s to import; only files and sklearn data need it

    train, test = train_test_split(
        np.arange(n), test_size=n_test, random_state=SPLIT_SEED, stratify=y if stratify else None
    )
    return np.asarray(train), np.asarray(test)
