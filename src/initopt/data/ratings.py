"""Ratings for recommenders: a user's file ``ratings:PATH`` and the built-in ``synthetic-ratings``.

Both give ``"pairs"`` inputs, int64 ``(n, 2)`` rows of ``(user id, item id)``, and a float32 rating
to predict: task ``regression``, loss ``mse``, metric ``rmse`` (the root of the mean squared error
over a whole split), as in the Netflix-prize setting of matrix factorization (Koren, Bell & Volinsky
2009, "Matrix factorization techniques for recommender systems").

``ratings:PATH``: a UTF-8 CSV with a header row naming (at least) the columns ``user``, ``item`` and
``rating``; other columns (a timestamp, say) are ignored. User and item ids may be any text; each
distinct id is numbered ``0..n-1`` in sorted (string) order. The rows are split 80/20 at random with
``initopt.data.splitting``'s fixed seed; a user or item seen only in the test part keeps its id (a
model has learned nothing about it: the cold-start case).

``synthetic-ratings``: a low-rank matrix plus noise, observed at random cells (see
``make_synthetic_ratings``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from initopt.data.errors import DataError, did_you_mean
from initopt.data.files import numeric_column, read_rows
from initopt.data.options import Option, describe_options
from initopt.data.splitting import MIN_ROWS, SPLIT_NAME, SPLIT_SEED, split_indices, split_sizes
from initopt.data.types import RawData

RATINGS_PREFIX = "ratings:"
COLUMNS = ("user", "item", "rating")
DEFAULT_METRIC = "rmse"
MAX_CELLS = 10**8  # n_users * n_items of the synthetic matrix: its cells are drawn without replacement
SYNTHETIC_OPTIONS = (
    Option("n_users", 300, int, lambda v: v >= 1, ">= 1", "rows of the rating matrix"),
    Option("n_items", 200, int, lambda v: v >= 1, ">= 1", "columns of the rating matrix"),
    Option("rank", 5, int, lambda v: v >= 1, ">= 1", "rank of the true matrix"),
    Option("noise", 0.1, float, lambda v: v >= 0, ">= 0", "std of the rating noise (the signal's is 1)"),
    Option("density", 0.08, float, lambda v: 0 < v <= 1, "in (0, 1]", "share of the cells that are rated"),
    Option("seed", 0, int, lambda v: v >= 0, ">= 0", "seed of the matrix, the noise, the cells and the split"),
)


def _id_column(cells: list[str], lines: list[int], where: str) -> tuple[np.ndarray, int]:
    """Ids as numbers ``0..n-1`` (sorted distinct text) and ``n``; an empty cell is an error."""
    cells = [c.strip() for c in cells]
    for cell, line in zip(cells, lines):
        if not cell:
            raise DataError(f"{where}, line {line}: empty cell (every rating needs a user and an item)")
    distinct, ids = np.unique(np.array(cells, dtype=str), return_inverse=True)
    return ids.astype(np.int64).reshape(-1), len(distinct)


def read_ratings(path_text: str) -> RawData:
    """The ratings of the CSV file ``path_text`` (columns ``user``, ``item``, ``rating``), split 80/20."""
    path, where = Path(path_text).expanduser(), path_text
    header, rows, lines = read_rows(path, where)
    for column in COLUMNS:
        if column not in header:
            raise DataError(
                f"{where}: no column {column!r}{did_you_mean(column, header)} the first line must be a header "
                f"naming the columns user, item, rating; it names: {', '.join(repr(h) for h in header)}"
            )
    columns = {name: [row[header.index(name)] for row in rows] for name in COLUMNS}
    users, n_users = _id_column(columns["user"], lines, f"{where}: column 'user'")
    items, n_items = _id_column(columns["item"], lines, f"{where}: column 'item'")
    rating = numeric_column(columns["rating"], lines, f"{where}: column 'rating'").astype(np.float32)
    x = np.stack([users, items], axis=1)
    train, test = split_indices(rating, stratify=False, where=where)
    return RawData(
        name=f"{RATINGS_PREFIX}{path_text}",
        task="regression",
        x=x[train],
        y=rating[train],
        x_test=x[test],
        y_test=rating[test],
        description=(
            f"ratings {path.name}: {len(rows)} ratings of {n_items} items by {n_users} users; "
            f"random {SPLIT_NAME} split, seed {SPLIT_SEED}"
        ),
        input_kind="pairs",
        n_users=n_users,
        n_items=n_items,
        default_metric=DEFAULT_METRIC,
    )


def make_synthetic_ratings(n_users: int = 300, n_items: int = 200, rank: int = 5, noise: float = 0.1,
                           density: float = 0.08, seed: int = 0) -> RawData:  # fmt: skip
    """A rank-``rank`` rating matrix plus noise, rated at ``round(density * n_users * n_items)`` cells.

        r_ui = <u_u, v_i> + noise * eps_ui,   u_u, v_i ~ N(0, I / sqrt(rank)),   eps_ui ~ N(0, 1)

    so the true ratings have unit variance (``Var <u, v> = rank * (1/sqrt(rank))^2 = 1``) and
    ``noise`` is the noise-to-signal ratio of the stds: an RMSE of ``noise`` is the best any model
    can do, predicting 0 gives ~1. The rated cells are drawn without replacement, in random order;
    the first 80% train and the rest test (the cells are i.i.d., so any 80% is as good). Everything
    comes from ``seed`` (numpy's PCG64, the same on every machine). The defaults (4800 ratings,
    3840 / 960) make an epoch a fraction of a second on a CPU.
    """
    cells = n_users * n_items
    if cells > MAX_CELLS:
        raise DataError(f"synthetic-ratings: n_users * n_items = {cells} cells, at most {MAX_CELLS}")
    n = round(density * cells)
    if n < MIN_ROWS:
        raise DataError(
            f"synthetic-ratings: density {density:g} of {cells} cells gives {n} ratings; need at least {MIN_ROWS} "
            f"to split {SPLIT_NAME}: raise density, n_users or n_items"
        )
    rng = np.random.default_rng(seed)
    scale = rank ** -0.25  # the std of each factor entry: variance 1/sqrt(rank)
    u = rng.standard_normal((n_users, rank)) * scale
    v = rng.standard_normal((n_items, rank)) * scale
    cell = rng.choice(cells, size=n, replace=False)
    user, item = np.divmod(cell, n_items)
    rating = (np.einsum("nk,nk->n", u[user], v[item]) + noise * rng.standard_normal(n)).astype(np.float32)
    x = np.stack([user, item], axis=1).astype(np.int64)
    n_train, _ = split_sizes(n)
    options = describe_options({"n_users": n_users, "n_items": n_items, "rank": rank, "noise": noise,
                                "density": density, "seed": seed})
    return RawData(
        name="synthetic-ratings",
        task="regression",
        x=x[:n_train],
        y=rating[:n_train],
        x_test=x[n_train:],
        y_test=rating[n_train:],
        description=(
            f"synthetic low-rank ratings, {options}: <u, v> + noise at {n} random cells "
            f"(signal std 1, best RMSE ~{noise:g}); first {n_train} train, the other {n - n_train} test"
        ),
        input_kind="pairs",
        n_users=n_users,
        n_items=n_items,
        default_metric=DEFAULT_METRIC,
    )

