"""Images: the built-in digits-images and (n, C, H, W) arrays in a user's .npz, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import initopt.data
from initopt.data import DataError

RNG = np.random.default_rng(0)


def test_digits_images_are_digits_as_one_channel_8x8_images():
    train, test = initopt.data.load("digits-images")
    flat_train, flat_test = initopt.data.load("digits")
    info = train.info
    assert (info.input_shape, info.n_features, info.input_kind, info.output_dim) == ((1, 8, 8), 64, "values", 10)
    assert (info.n_train, info.n_test) == (flat_train.info.n_train, flat_test.info.n_test)
    assert train.x.dtype == torch.float32 and train.x.shape == (1437, 1, 8, 8)
    # the same rows in each part, in the same order, standardized with the same per-pixel statistics
    for image, flat in ((train, flat_train), (test, flat_test)):
        assert torch.equal(image.x.reshape(len(image), 64), flat.x)
        assert torch.equal(image.y, flat.y)
    assert "(1, 8, 8)" in info.description


def test_npz_images_keep_their_shape_and_are_standardized_per_pixel(tmp_path):
    x = RNG.standard_normal((40, 3, 5, 6)).astype(np.float32) * 4 + 2
    y = np.arange(40) % 4
    path = tmp_path / "imgs.npz"
    np.savez(path, x=x, y=y)
    train, test = initopt.data.load(str(path))
    assert train.info.input_shape == (3, 5, 6) and train.info.n_features == 90
    assert train.x.shape == (32, 3, 5, 6) and test.x.shape == (8, 3, 5, 6)
    assert train.scaler.mean.shape == (3, 5, 6)
    assert torch.allclose(train.x.mean(0), torch.zeros(3, 5, 6), atol=1e-5)


def test_npz_images_with_their_own_test_arrays(tmp_path):
    x, x_test = RNG.standard_normal((20, 1, 4, 4)), RNG.standard_normal((6, 1, 4, 4))
    path = tmp_path / "given.npz"
    np.savez(path, x=x, y=np.arange(20) % 2, x_test=x_test, y_test=np.arange(6) % 2)
    train, test = initopt.data.load(str(path))
    assert (train.x.shape, test.x.shape) == ((20, 1, 4, 4), (6, 1, 4, 4))


X = RNG.standard_normal((20, 1, 4, 4))
Y = np.arange(20) % 2
# (arrays to save, fragments of the one-line message); {p} is the file's path
BAD_IMAGES = [
    pytest.param({"x": RNG.standard_normal((20, 1, 2, 2, 2)), "y": Y}, ["array 'x' has shape (20, 1, 2, 2, 2) (5 axes)",
                 "images (n, C, H, W)"], id="too-many-axes"),
    pytest.param({"x": RNG.standard_normal((20, 8, 8, 3)), "y": Y}, ["looks channels-last", "x.transpose(0, 3, 1, 2)"],
                 id="channels-last"),
    pytest.param({"x": np.zeros((20, 0, 4, 4)), "y": Y}, ["array 'x' has shape (20, 0, 4, 4)", "hold no values"],
                 id="empty-images"),
    pytest.param({"x": X, "y": Y, "x_test": RNG.standard_normal((6, 1, 5, 5)), "y_test": Y[:6]},
                 ["'x_test' rows have shape (1, 5, 5) but 'x' rows have (1, 4, 4)"], id="test-images-other-size"),
    pytest.param({"x": X[:, 0, 0, 0], "y": Y}, ["array 'x' has shape (20,)"], id="one-axis"),
]


@pytest.mark.parametrize("arrays, fragments", BAD_IMAGES)
def test_bad_image_arrays(tmp_path, arrays, fragments):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as err:
        initopt.data.load(str(path))
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message
    for fragment in fragments:
        assert fragment.format(p=path) in message


def test_ragged_images_are_an_object_array_and_refused(tmp_path):
    """Images of different sizes can only be saved as an object array, which needs pickle to read."""
    ragged = np.empty(3, dtype=object)
    ragged[:] = [np.zeros((1, 8, 8)), np.zeros((1, 6, 6)), np.zeros((1, 8, 8))]
    path = tmp_path / "ragged.npz"
    np.savez(path, x=ragged, y=np.array([0, 1, 0]))
    with pytest.raises(DataError) as err:
        initopt.data.load(str(path))
    message = str(err.value)
    assert message.startswith(f"{path}: array 'x' cannot be read without pickle") and "\n" not in message
    assert "different shapes" in message and "(n, C, H, W)" in message
