"""Matrix factorization for ratings: ``r(u, i) = <p_u, q_i> + b_u + b_i + b``.

Koren, Bell & Volinsky, "Matrix Factorization Techniques for Recommender Systems", IEEE Computer
2009, eq. (3): user and item factors of width ``dim`` plus user, item and global biases.

Every parameter lives in an nn.Embedding (the global bias too: a 1 x 1 table looked up with index 0
for every example), so the study's bundled embedding stands in for all of them. ``initialize`` reads
the width-1 tables as biases (zeros by default) and the factor tables as embeddings.
"""

from __future__ import annotations

import torch
from torch import nn


class MatrixFactorization(nn.Module):
    """``(N, 2)`` int64 ``(user, item)`` pairs -> ``(N, 1)`` predictions (one value per pair, as the
    other built-in models with one output: the loss reads ``(N, 1)`` against an ``(N,)`` target)."""

    def __init__(self, n_users: int, n_items: int, dim: int = 32):
        super().__init__()
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        self.user_bias = nn.Embedding(n_users, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        self.global_bias = nn.Embedding(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pairs = x.long() if x.is_floating_point() else x  # ids stored as floats are still whole numbers
        users, items = pairs[:, 0], pairs[:, 1]
        dot = (self.user(users) * self.item(items)).sum(dim=-1, keepdim=True)
        return dot + self.user_bias(users) + self.item_bias(items) + self.global_bias(torch.zeros_like(users))
