"""Per-feature standardization with statistics from the train split only.

    mean_j = (1/n) sum_i x_ij,   std_j = sqrt((1/n) sum_i (x_ij - mean_j)^2)   (train rows i only)
    x'_ij  = (x_ij - mean_j) / std_j                                          (train and test)

This is scikit-learn's ``StandardScaler`` (population std, ddof=0). A constant feature has std 0;
it gets std 1 so that it maps to 0 instead of NaN. Fitting on the test split as well would leak
information about the test data into training, so the test split never enters the statistics.
"""

from __future__ import annotations

import numpy as np


def fit_scaler(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per feature of ``x_train`` (shape ``(n, *input_shape)``), in float64.

    Returns arrays of shape ``input_shape``; a zero std is replaced by 1.
    """
    x = np.asarray(x_train, dtype=np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return mean, std


def standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` in float64, broadcast over the leading (example) axis."""
    return (np.asarray(x, dtype=np.float64) - mean) / std
