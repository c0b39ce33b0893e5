"""ratings:PATH and the built-in synthetic-ratings: (user, item) pairs, float ratings, rmse, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import initopt.data
from initopt.data import DataError, OptionError, loader
from initopt.data.ratings import make_synthetic_ratings

USERS = ["alice", "bob", "carol", "dave", "erin"]
ITEMS = ["i10", "i2", "i3", "i4"]
ROWS = [(u, i, (k % 5) + 1.0) for k, (u, i) in enumerate((u, i) for u in USERS for i in ITEMS)]  # 20 ratings


def ratings_csv(write, rows=ROWS, header="user,item,rating", name="r.csv"):
    return write(name, header + "\n" + "".join(",".join(str(c) for c in row) + "\n" for row in rows))


def test_ratings_file_ids_split_and_info(write):
    path = ratings_csv(write)
    train, test = initopt.data.load(f"ratings:{path}")
    info = train.info
    assert (info.task, info.input_kind, info.n_users, info.n_items) == ("regression", "pairs", 5, 4)
    assert (info.input_shape, info.default_loss, info.default_metric, info.output_dim) == ((2,), "mse", "rmse", 1)
    assert (info.n_train, info.n_test) == (16, 4)
    for split in (train, test):
        assert split.x.dtype == torch.int64 and split.y.dtype == torch.float32 and split.scaler is None
    # ids are numbered in sorted order of their text; every rating lands in one part, unchanged
    rows = {(USERS[u], sorted(ITEMS)[i], r) for (u, i), r in zip(torch.cat([train.x, test.x]).tolist(),
                                                                  torch.cat([train.y, test.y]).tolist())}
    assert rows == set(ROWS)


def test_ratings_split_is_deterministic_and_other_columns_are_ignored(write):
    path = ratings_csv(write, rows=[(*r, 1700000000 + k) for k, r in enumerate(ROWS)], header="user,item,rating,timestamp")
    first = initopt.data.load(f"ratings:{path}")
    loader.clear_cache()
    again = initopt.data.load(f"ratings:{path}")
    assert torch.equal(first.train.x, again.train.x) and torch.equal(first.test.y, again.test.y)


# (file content, fragment of the message after the path)
BAD_RATINGS = [
    pytest.param("", ": empty file; expected a header row", id="empty"),
    pytest.param("user,item,rating\n", ": no data rows after the header (line 1)", id="header-only"),
    pytest.param("user,item,score\na,b,1\n", ": no column 'rating'", id="missing-column"),
    pytest.param("user,itme,rating\na,b,1\n", ": no column 'item'; did you mean 'itme'?", id="misspelt-column"),
    pytest.param("alice,i1,5\nbob,i2,4\n", ": no column 'user'", id="no-header"),
    pytest.param("user,item,rating\na,x,5\nb,y,five\n", ": column 'rating', line 3: 'five' is not a number", id="non-numeric"),
    pytest.param("user,item,rating\na,x,5\nb,y,\n", ": column 'rating', line 3: empty cell", id="empty-rating"),
    pytest.param("user,item,rating\na,x,5\nb,y,nan\n", ": column 'rating', line 3: 'nan' is not a finite number", id="nan"),
    pytest.param("user,item,rating\na,x,5\n ,y,4\n", ": column 'user', line 3: empty cell", id="empty-user"),
    pytest.param("user,item,rating\na,x,5\nb,y\n", ": line 3 has 2 fields but the header (line 1) has 3", id="ragged"),
    pytest.param("user,item,rating\n" + "a,x,1\n" * 5, ": 5 rows are too few to split 80/20", id="too-few"),
]


@pytest.mark.parametrize("content, fragment", BAD_RATINGS)
def test_bad_ratings_files(write, content, fragment):
    path = write("bad.csv", content)
    with pytest.raises(DataError) as err:
        initopt.data.load(f"ratings:{path}")
    message = str(err.value)
    assert message.startswith(f"{path}{fragment}"), message
    assert "\n" not in message


def test_missing_ratings_file(tmp_path):
    with pytest.raises(DataError, match="nope.csv: no such file"):
        initopt.data.load(f"ratings:{tmp_path / 'nope.csv'}")


def test_ratings_files_take_no_options(write):
    with pytest.raises(OptionError, match="takes no options"):
        initopt.data.load(f"ratings:{ratings_csv(write)}", seed=1)


# --- synthetic-ratings -------------------------------------------------------------------------
def test_synthetic_ratings_defaults():
    train, test = initopt.data.load("synthetic-ratings")
    info = train.info
    assert (info.n_users, info.n_items, info.input_kind, info.default_metric) == (300, 200, "pairs", "rmse")
    assert (info.n_train, info.n_test) == (3840, 960)  # density 0.08 of 60000 cells, 80/20
    x = torch.cat([train.x, test.x])
    assert x.dtype == torch.int64 and x[:, 0].max() < 300 and x[:, 1].max() < 200
    assert len({tuple(r) for r in x.tolist()}) == len(x)  # each cell rated once
    y = torch.cat([train.y, test.y])
    assert y.dtype == torch.float32 and 0.8 < y.std().item() < 1.2  # unit-variance signal plus 0.1 noise


def test_synthetic_ratings_are_low_rank_plus_noise():
    full = make_synthetic_ratings(n_users=30, n_items=20, rank=3, noise=0.0, density=1.0)
    matrix = np.zeros((30, 20))
    for part_x, part_y in ((full.x, full.y), (full.x_test, full.y_test)):
        matrix[part_x[:, 0], part_x[:, 1]] = part_y
    singular = np.linalg.svd(matrix, compute_uv=False)
    assert singular[2] > 1e-2 * singular[0] and singular[3] < 1e-5 * singular[0]  # rank 3 exactly
    noisy = make_synthetic_ratings(n_users=30, n_items=20, rank=3, noise=0.5, density=1.0)
    residual = np.concatenate([noisy.y, noisy.y_test]) - np.concatenate([full.y, full.y_test])
    assert 0.4 < residual.std() < 0.6


def test_synthetic_ratings_are_seeded():
    a, b, c = (make_synthetic_ratings(n_users=20, n_items=10, seed=s, density=0.5) for s in (1, 1, 2))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.y, c.y)
    splits = initopt.data.load("synthetic-ratings", n_users=20, n_items=10, density=0.5, seed=1)
    assert torch.equal(splits.train.x, torch.from_numpy(a.x)) and (splits.info.n_train, splits.info.n_test) == (80, 20)


@pytest.mark.parametrize(
    "options, error, fragment",
    [
        ({"density": 0}, OptionError, "option 'density': must be in (0, 1], got 0.0"),
        ({"rank": 0}, OptionError, "option 'rank': must be >= 1"),
        ({"noise": -0.1}, OptionError, "option 'noise': must be >= 0"),
        ({"n_user": 10}, OptionError, "did you mean 'n_users'?"),
        ({"n_users": 2, "n_items": 2, "density": 0.5}, DataError, "gives 2 ratings; need at least 6"),
    ],
)
def test_bad_synthetic_options(options, error, fragment):
    with pytest.raises(error) as err:
        initopt.data.load("synthetic-ratings", **options)
    assert fragment in str(err.value)
