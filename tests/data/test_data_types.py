"""The records: DatasetInfo derivations, Split as a torch Dataset, Splits unpacking, validation."""

from __future__ import annotations

import pytest
import torch

from initopt.data import DatasetInfo, Split, Splits
from initopt.data.standardize import fit_scaler, standardize

# (task, n_classes asked, n_classes, output_dim, loss, metric)
TASKS = [
    ("binary", 0, 2, 1, "bce", "accuracy"),
    ("multiclass", 7, 7, 7, "cross_entropy", "accuracy"),
    ("regression", 0, 0, 1, "mse", "mse"),
]


@pytest.mark.parametrize("task, asked, n_classes, output_dim, loss, metric", TASKS)
def test_info_derives_from_the_task(task, asked, n_classes, output_dim, loss, metric):
    info = DatasetInfo.create("toy", task, (4, 5), 10, 3, "made up", n_classes=asked)
    assert (info.n_classes, info.output_dim, info.default_loss, info.default_metric) == (n_classes, output_dim, loss, metric)
    assert info.n_features == 20 and info.input_shape == (4, 5)


@pytest.mark.parametrize(
    "changes, field",
    [({"task": "ranking"}, "task"), ({"n_features": 3}, "n_features"), ({"n_classes": 3}, "n_classes")],
)
def test_info_validates(changes, field):
    fields = dict(
        name="t", task="binary", n_features=2, n_classes=2, input_shape=(2,), output_dim=1,
        default_loss="bce", default_metric="accuracy", n_train=1, n_test=1, description="d",
    )
    with pytest.raises(ValueError, match=f"DatasetInfo.{field}"):
        DatasetInfo(**{**fields, **changes})


def make_split(task="multiclass", n=6, part="train", x=None, y=None) -> Split:
    info = DatasetInfo.create("toy", task, (3,), n, n, "made up", n_classes=3)
    x = torch.randn(n, 3) if x is None else x
    y = (torch.arange(n) % 3 if task == "multiclass" else torch.zeros(n)) if y is None else y
    return Split(x, y, info, part)


def test_split_is_a_dataset():
    split = make_split()
    assert len(split) == 6
    x2, y2 = split[2]
    assert torch.equal(x2, split.x[2]) and y2 == 2
    assert split.tensors == (split.x, split.y)
    xb, yb = next(iter(torch.utils.data.DataLoader(split, batch_size=4)))
    assert xb.shape == (4, 3) and yb.tolist() == [0, 1, 2, 0]
    assert "x=float32[6, 3]" in repr(split) and "part='train'" in repr(split)


def test_splits_unpack_and_share_info():
    train, test = splits = Splits(make_split(), make_split(part="test"))
    assert splits.info is train.info and splits.train is train and splits.test is test


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"part": "valid"}, "part"),
        ({"x": torch.randn(6, 4)}, "x"),
        ({"x": torch.randn(6, 3, dtype=torch.float64)}, "x"),
        ({"y": torch.zeros(5, dtype=torch.int64)}, "y"),
        ({"y": torch.zeros(6)}, "y"),  # multiclass wants int64
        ({"task": "binary", "y": torch.zeros(6, dtype=torch.int64)}, "y"),  # binary wants float32
    ],
)
def test_split_validates(kwargs, field):
    with pytest.raises(ValueError, match=f"Split.{field}"):
        make_split(**kwargs)


def test_standardize_uses_population_std_and_guards_constant_columns():
    x = torch.tensor([[1.0, 5.0], [3.0, 5.0]]).numpy()
    mean, std = fit_scaler(x)
    assert mean.tolist() == [2.0, 5.0] and std.tolist() == [1.0, 1.0]
    assert standardize(x, mean, std).tolist() == [[-1.0, 0.0], [1.0, 0.0]]


# --- inputs that are ids: tokens (language) and (user, item) pairs (recommenders) ---------------
def test_info_defaults_keep_values_inputs():
    info = DatasetInfo.create("toy", "binary", (3,), 4, 2, "made up")
    assert (info.input_kind, info.vocab_size, info.n_users, info.n_items, info.target_shape) == ("values", 0, 0, 0, ())


def test_token_info_with_per_token_targets():
    info = DatasetInfo.create("lm", "multiclass", (8,), 4, 2, "made up", n_classes=5, input_kind="tokens",
                              vocab_size=5, target_shape=(8,))
    assert (info.output_dim, info.target_shape, info.default_metric) == (5, (8,), "accuracy")
    split = Split(torch.randint(0, 5, (4, 8)), torch.randint(0, 5, (4, 8)), info, "train")
    assert split.x.dtype == torch.int64 and split.scaler is None


def test_pairs_info_and_its_default_metric():
    info = DatasetInfo.create("r", "regression", (2,), 4, 2, "made up", input_kind="pairs", n_users=3, n_items=2,
                              default_metric="rmse")
    assert (info.default_loss, info.default_metric, info.output_dim) == ("mse", "rmse", 1)
    Split(torch.tensor([[0, 1], [2, 0], [1, 1], [0, 0]]), torch.randn(4), info, "train")


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"input_kind": "pixels"}, "input_kind"),
        ({"input_kind": "tokens"}, "vocab_size"),  # tokens without a vocabulary
        ({"vocab_size": 5}, "vocab_size"),  # a vocabulary for values
        ({"input_kind": "pairs", "n_users": 3}, "n_users"),  # pairs without items
        ({"target_shape": (4,)}, "target_shape"),  # per-token targets of a binary task
    ],
)
def test_info_validates_what_models_read(changes, field):
    fields = dict(
        name="t", task="binary", n_features=2, n_classes=2, input_shape=(2,), output_dim=1,
        default_loss="bce", default_metric="accuracy", n_train=1, n_test=1, description="d",
    )
    with pytest.raises(ValueError, match=f"DatasetInfo.{field}"):
        DatasetInfo(**{**fields, **changes})


@pytest.mark.parametrize(
    "x, y, field",
    [
        (torch.randn(4, 8), torch.randint(0, 5, (4, 8)), "x"),  # tokens must be int64
        (torch.randint(0, 5, (4, 8)), torch.randint(0, 5, (4,)), "y"),  # one target per position
    ],
)
def test_token_split_validates(x, y, field):
    info = DatasetInfo.create("lm", "multiclass", (8,), 4, 2, "made up", n_classes=5, input_kind="tokens",
                              vocab_size=5, target_shape=(8,))
    with pytest.raises(ValueError, match=f"Split.{field}"):
        Split(x, y, info, "train")
