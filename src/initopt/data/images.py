"""Images: arrays of shape ``(n, C, H, W)`` (channels first, PyTorch's layout).

* The built-in ``digits-images``: scikit-learn's bundled 8x8 digits (UCI optical recognition of
  handwritten digits, Alpaydin & Kaynak 1998) as ``(n, 1, 8, 8)`` images, with the same rows in each
  part as ``digits`` (``to_images`` reshapes the flat rows; ``initopt.data.builtin`` registers it).
* A user ``.npz`` whose ``x`` is 4-D is read as images by ``initopt.data.files.read_npz``, after
  ``check_image_array`` here.

Images are ``"values"`` inputs: standardized per pixel (per feature) with the train statistics, like
any other array, so a pixel that is blank in every training image maps to 0.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from initopt.data.errors import DataError
from initopt.data.types import RawData

IMAGE_NDIM = 4  # (n, C, H, W)
# An input array of more axes than an image batch has no model in initopt to read it.
MAX_NDIM = IMAGE_NDIM
# Channel counts of common images (grey, RGB, RGBA): a last axis of this size after a larger
# second axis is almost surely a channels-last (n, H, W, C) array.
COMMON_CHANNELS = (1, 3, 4)
NPZ_IMAGES_HOWTO = "store images as one numeric array of shape (n, C, H, W)"


def to_images(raw: RawData, shape: tuple[int, int, int], name: str, what: str) -> RawData:
    """``raw`` with each flat row of ``C*H*W`` values reshaped to an image of ``shape`` ``(C, H, W)``."""
    def reshape(x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), *shape)

    return replace(raw, name=name, x=reshape(raw.x), x_test=reshape(raw.x_test),
                   description=f"{raw.description}; as {what} images of shape {shape} (C, H, W)")


def check_image_array(x: np.ndarray, name: str, where: str) -> None:
    """Reject input arrays that no initopt model can read as examples: more axes than an image
    batch, an example with no values, or an image batch in channels-last layout.

    Raises:
        DataError: naming the file (``where``), the array and what is wrong.
    """
    if x.ndim > MAX_NDIM:
        raise DataError(
            f"{where}: array {name!r} has shape {x.shape} ({x.ndim} axes); expected (n, features), "
            f"(n, length, ...) or images (n, C, H, W), at most {MAX_NDIM} axes"
        )
    if 0 in x.shape[1:]:
        raise DataError(f"{where}: array {name!r} has shape {x.shape}: its examples hold no values")
    if x.ndim == IMAGE_NDIM and x.shape[-1] in COMMON_CHANNELS and x.shape[1] > max(COMMON_CHANNELS):
        raise DataError(
            f"{where}: array {name!r} has shape {x.shape}, which looks channels-last (n, H, W, C); "
            f"images are read channels-first (n, C, H, W): save x.transpose(0, 3, 1, 2)"
        )


def object_array_error(key: str, where: str) -> DataError:
    """The error for an array numpy stored as Python objects (which needs pickle, which we do not
    load): most often rows or images of different shapes."""
    return DataError(
        f"{where}: array {key!r} cannot be read without pickle: it holds Python objects, not numbers "
        f"(rows or images of different shapes?); {NPZ_IMAGES_HOWTO}, or (n, features) for a table"
    )
