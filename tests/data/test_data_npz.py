"""PATH.npz: with and without test arrays, standardization from train only, and every error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import initopt.data
from initopt.data import DataError

RNG = np.random.default_rng(0)


def save(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_without_test_arrays_is_split_80_20(tmp_path):
    x = RNG.standard_normal((50, 3))
    y = (x[:, 0] > 0).astype(np.int64)
    train, test = initopt.data.load(str(save(tmp_path / "d.npz", x=x, y=y)))
    info = train.info
    assert (info.task, info.input_shape, info.n_train, info.n_test) == ("binary", (3,), 40, 10)
    assert train.y.dtype == torch.float32
    # every row lands in exactly one part, mapped back through the scaler
    rows = torch.cat([train.scaler.inverse_transform(s.x) for s in (train, test)]).double().numpy()
    np.testing.assert_allclose(rows[rows[:, 0].argsort()], x[x[:, 0].argsort()], atol=1e-5)


def test_npz_with_test_arrays_keeps_them_and_ignores_their_statistics(tmp_path):
    x = RNG.standard_normal((40, 2)) * [1.0, 3.0] + [5.0, -2.0]
    x_test = RNG.standard_normal((10, 2)) * 100 + 1000  # wildly off: must not move the scaler
    y, y_test = RNG.standard_normal(40), RNG.standard_normal(10)
    train, test = initopt.data.load(str(save(tmp_path / "r.npz", x=x, y=y, x_test=x_test, y_test=y_test)))
    assert (train.info.task, train.info.n_train, train.info.n_test) == ("regression", 40, 10)
    np.testing.assert_allclose(train.scaler.mean.numpy(), x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(train.scaler.std.numpy(), x.std(0), rtol=1e-6)
    np.testing.assert_allclose(test.x.numpy(), (x_test - x.mean(0)) / x.std(0), rtol=1e-5)
    np.testing.assert_allclose(test.y.numpy(), y_test, rtol=1e-6)


def test_npz_labels_are_encoded_across_both_parts(tmp_path):
    x, x_test = RNG.standard_normal((30, 2)), RNG.standard_normal((6, 2))
    y = np.array(["b", "c", "a"] * 10)
    y_test = np.array(["c", "c", "a", "a", "b", "b"])
    train, test = initopt.data.load(str(save(tmp_path / "s.npz", x=x, y=y, x_test=x_test, y_test=y_test)))
    assert train.info.classes == ("a", "b", "c") and train.info.task == "multiclass"
    assert test.y.tolist() == [2, 2, 0, 0, 1, 1]


def test_npz_multidimensional_inputs_and_column_targets(tmp_path):
    x = RNG.standard_normal((30, 4, 5)).astype(np.float32)
    y = (np.arange(30) % 3).reshape(30, 1)
    train, test = initopt.data.load(str(save(tmp_path / "img.npz", x=x, y=y)))
    assert train.info.input_shape == (4, 5) and train.info.n_features == 20
    assert train.x.shape == (24, 4, 5) and test.y.shape == (6,)
    assert torch.allclose(train.x.mean(0), torch.zeros(4, 5), atol=1e-5)


def test_npz_bool_target_is_binary(tmp_path):
    x = RNG.standard_normal((20, 2))
    assert initopt.data.load(str(save(tmp_path / "b.npz", x=x, y=x[:, 0] > 0))).info.task == "binary"


X = RNG.standard_normal((20, 3))
Y = np.arange(20) % 2
X_NAN = X.copy()
X_NAN[7, 2] = np.nan
# (arrays to save, fragments the message must contain); {p} is the file's path
BAD_NPZ = [
    pytest.param({"x": X}, ["{p}: no array 'y'; the arrays are: 'x'"], id="no-y"),
    pytest.param({"X": X, "y": Y}, ["{p}: no array 'x'; did you mean 'X'? the arrays are: 'X', 'y'"], id="no-x-suggest"),
    pytest.param({"x": X, "y": Y[:19]}, ["{p}: array 'x' has 20 rows but 'y' has 19"], id="length-mismatch"),
    pytest.param({"x": X, "y": Y, "x_test": X}, ["has 'x_test' but no 'y_test'"], id="x-test-without-y-test"),
    pytest.param({"x": X, "y": Y, "y_test": Y}, ["has 'y_test' but no 'x_test'"], id="y-test-without-x-test"),
    pytest.param(
        {"x": X, "y": Y, "x_test": X[:5], "y_test": Y[:4]}, ["array 'x_test' has 5 rows but 'y_test' has 4"], id="test-mismatch"
    ),
    pytest.param({"x": X, "y": Y, "x_test": X[:5, :2], "y_test": Y[:5]}, ["'x_test' rows have shape (2,)"], id="test-features"),
    pytest.param({"x": X, "y": Y, "x_test": X[:1], "y_test": Y[:1]}, ["array 'x_test' has too few rows (1); need at least 2"], id="tiny-test"),
    pytest.param({"x": X_NAN, "y": Y}, ["{p}: array 'x', index [7, 2]: nan is not finite"], id="nan-x"),
    pytest.param({"x": X, "y": np.where(Y == 1, np.inf, 0.5)}, ["array 'y', index [1]: inf is not finite"], id="inf-y"),
    pytest.param({"x": X[:, 0], "y": Y}, ["array 'x' has shape (20,)", "x[:, None]"], id="x-1d"),
    pytest.param({"x": X.astype(str), "y": Y}, ["array 'x' has dtype <U"], id="x-strings"),
    pytest.param({"x": X, "y": np.ones((20, 2))}, ["array 'y' has shape (20, 2)"], id="y-2d"),
    pytest.param({"x": X[:5], "y": Y[:5]}, ["{p}: 5 rows are too few to split"], id="too-few-rows"),
    pytest.param({"x": X, "y": np.zeros(20)}, ["every row has the label '0'"], id="single-class"),
]


@pytest.mark.parametrize("arrays, fragments", BAD_NPZ)
def test_bad_npz(tmp_path, arrays, fragments):
    path = save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError) as err:
        initopt.data.load(str(path))
    message = str(err.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment.format(p=path) in message


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x=X, y=np.array([{"a": 1}] * 20, dtype=object))
    with pytest.raises(DataError, match="array 'y' cannot be read without pickle"):
        initopt.data.load(str(path))


@pytest.mark.parametrize(
    "content, fragment",
    [(b"not a zip file", "not a readable .npz file"), (b"", "not a readable .npz file")],
    ids=["garbage", "empty"],
)
def test_unreadable_npz(write, content, fragment):
    path = write("junk.npz", content)
    with pytest.raises(DataError, match=fragment):
        initopt.data.load(str(path))


def test_a_single_npy_array_renamed_npz(tmp_path):
    path = tmp_path / "one.npz"
    with open(path, "wb") as f:
        np.save(f, X)
    with pytest.raises(DataError, match="holds a single array"):
        initopt.data.load(str(path))


def test_missing_npz(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        initopt.data.load(str(tmp_path / "missing.npz"))
