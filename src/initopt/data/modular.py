"""The built-in ``modular-addition``: ``a + b mod p`` from the sequence ``[a, b, =]``.

Power, Burda, Edwards, Babuschkin & Misra 2022, "Grokking: Generalization beyond overfitting on small
algorithmic datasets" (arXiv:2201.02177): the table of a binary operation on ``0..p-1`` is the
whole dataset, a random ``train_fraction`` of its ``p^2`` equations trains and the rest tests. A
network first memorizes the training equations and, with weight decay and long training,
generalizes much later ("grokking"): a workload on which init and optimizer choices show.

* inputs: int64 ``(n, 3)`` token ids ``[a, b, p]`` over a vocabulary of ``p + 1`` tokens (ids
  ``0..p-1`` are the numbers, id ``p`` is ``=``);
* target: the class ``c = (a + b) mod p`` (multiclass, ``p`` classes, one target per example).

Options: ``p`` (default 97, the paper's modulus; any ``p >= 2`` is a valid table, a prime as in the
paper is not required), ``train_fraction`` (default 0.4) and ``seed`` (default 0, the split's).
The paper sweeps the training fraction and finds the steps needed to generalize grow steeply as it
shrinks; 0.4 keeps a CPU study short while leaving the memorize-then-generalize gap (Nanda et al.
2023, "Progress measures for grokking via mechanistic interpretability", use 0.3 with p = 113).
"""

from __future__ import annotations

import numpy as np

from initopt.data.errors import DataError
from initopt.data.options import Option, describe_options
from initopt.data.types import RawData

MAX_P = 1000  # p^2 = 10^6 equations: the table stays a few tens of MB
MODULAR_OPTIONS = (
    Option("p", 97, int, lambda v: 2 <= v <= MAX_P, f"in [2, {MAX_P}]", "the modulus; the vocabulary is p + 1 tokens"),
    Option("train_fraction", 0.4, float, lambda v: 0 < v < 1, "in (0, 1)", "share of the p^2 equations that train"),
    Option("seed", 0, int, lambda v: v >= 0, ">= 0", "seed of the random train/test split"),
)


def equations(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Every equation of the table: inputs ``[a, b, =]`` (``=`` is token ``p``), targets ``(a + b) mod p``."""
    a, b = np.divmod(np.arange(p * p, dtype=np.int64), p)
    x = np.stack([a, b, np.full_like(a, p)], axis=1)
    return x, (a + b) % p


def make_modular_addition(p: int = 97, train_fraction: float = 0.4, seed: int = 0) -> RawData:
    """The ``p^2`` equations of ``a + b mod p``, split at random (from ``seed``) into a training part
    of ``round(train_fraction * p^2)`` equations and a test part of the rest."""
    x, y = equations(p)
    n = len(x)
    n_train = round(train_fraction * n)
    if not 1 <= n_train < n:
        raise DataError(
            f"modular-addition: train_fraction {train_fraction:g} of {n} equations (p={p}) leaves an empty "
            f"{'training' if n_train < 1 else 'test'} part; choose a fraction or p that gives both parts equations"
        )
    order = np.random.default_rng(seed).permutation(n)
    train, test = order[:n_train], order[n_train:]
    options = describe_options({"p": p, "train_fraction": train_fraction, "seed": seed})
    return RawData(
        name="modular-addition",
        task="multiclass",
        x=x[train],
        y=y[train],
        x_test=x[test],
        y_test=y[test],
        description=(
            f"a + b mod p from tokens [a, b, =] (Power et al. 2022, grokking), {options}: "
            f"{n_train} of the {n} equations train, the other {n - n_train} test"
        ),
        classes=tuple(str(c) for c in range(p)),
        input_kind="tokens",
        vocab_size=p + 1,
    )
