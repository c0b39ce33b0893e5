"""The built-in datasets: nothing is downloaded, each is generated or ships with a dependency.

* ``seed-binary``: synthetic binary task, the example this project started from (see
  ``make_seed_binary``).
* ``breast-cancer``, ``digits``: scikit-learn's bundled copies, stratified 80/20 split.
* ``mnist1d``: generated offline by the ``mnist1d`` package (Greydanus 2020), cached on disk.
* ``digits-images``: ``digits`` as ``(1, 8, 8)`` images (``initopt.data.images``).
* ``modular-addition``: ``a + b mod p`` as token sequences (Power et al. 2022; ``initopt.data.modular``).
* ``synthetic-ratings``: a noisy low-rank rating matrix (``initopt.data.ratings``).

Each maker returns ``RawData`` (unstandardized); ``initopt.data.loader`` standardizes it. A maker
that takes options declares them (``initopt.data.options.Option``) in its registry row.
"""

from __future__ import annotations

import importlib.metadata
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from initopt.data import cache
from initopt.data.images import to_images
from initopt.data.modular import MODULAR_OPTIONS, make_modular_addition
from initopt.data.options import Option
from initopt.data.ratings import SYNTHETIC_OPTIONS, make_synthetic_ratings
from initopt.data.splitting import SPLIT_NAME, SPLIT_SEED, split_indices
from initopt.data.types import RawData

# --- seed-binary -------------------------------------------------------------------------------
SEED_BINARY_SEED = 1337
SEED_BINARY_TRAIN = 4096
SEED_BINARY_TEST = 1024
SEED_BINARY_FEATURES = 100
# The 100 features are noisy views of a 12-d latent: low intrinsic dimension (like real data) lets a
# 100-64-1 MLP generalize from 4096 rows; the noise keeps any single feature uninformative.
LATENT_DIM = 12
FEATURE_NOISE = 0.5
# Weight of the nonlinear (|.|) part of the teacher relative to its linear part. At 1.0 a linear
# model tops out near 0.72 test accuracy while the reference MLP reaches ~0.87 in 10 epochs.
NONLINEAR_WEIGHT = 1.0
LABEL_NOISE = 0.03
# E|b| and std|b| for b ~ N(0, 1) (half-normal): used to centre and scale the |b| term.
HALF_NORMAL_MEAN = math.sqrt(2 / math.pi)
HALF_NORMAL_STD = math.sqrt(1 - 2 / math.pi)


def teacher_score(a: np.ndarray, b: np.ndarray, nonlinear_weight: float = NONLINEAR_WEIGHT) -> np.ndarray:
    """The seed-binary teacher on two standard-normal latent projections ``a`` and ``b``:

        score = a + w * (|b| - E|b|) / std|b|,   E|b| = sqrt(2/pi), std|b| = sqrt(1 - 2/pi)

    Linear in ``a`` (a linear model gets part of it) and V-shaped in ``b`` (it needs a hidden layer:
    two ReLUs, relu(b) + relu(-b)). Both terms have unit variance before weighting.
    """
    return a + nonlinear_weight * (np.abs(b) - HALF_NORMAL_MEAN) / HALF_NORMAL_STD


def _orthonormal_pair(rng: np.random.Generator, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Two random orthonormal directions in ``dim`` dimensions (Gram-Schmidt: the same on every
    LAPACK, unlike the sign conventions of a QR decomposition)."""
    u = rng.standard_normal(dim)
    u /= np.linalg.norm(u)
    w = rng.standard_normal(dim)
    w -= (w @ u) * u
    return u, w / np.linalg.norm(w)


def make_seed_binary(seed: int = SEED_BINARY_SEED) -> RawData:
    """The ``seed-binary`` data: 100 features, binary labels, 4096 train / 1024 test, all from ``seed``.

    1. latent ``s ~ N(0, I_12)`` per example;
    2. features ``x = s M + 0.5 eps``, ``M`` a fixed Gaussian 12x100 matrix scaled by 1/sqrt(12),
       ``eps ~ N(0, I_100)``;
    3. ``a = s.u``, ``b = s.w`` for fixed orthonormal ``u, w``; label = ``teacher_score(a, b)`` above its
       median (balanced classes), then 3% of the labels flipped at random (noise the model cannot fit).

    numpy's ``default_rng`` (PCG64) streams are stable across platforms, so the data are the same on
    every machine. Takes ~20 ms.
    """
    rng = np.random.default_rng(seed)
    n = SEED_BINARY_TRAIN + SEED_BINARY_TEST
    latent = rng.standard_normal((n, LATENT_DIM))
    mixing = rng.standard_normal((LATENT_DIM, SEED_BINARY_FEATURES)) / math.sqrt(LATENT_DIM)
    x = latent @ mixing + FEATURE_NOISE * rng.standard_normal((n, SEED_BINARY_FEATURES))
    u, w = _orthonormal_pair(rng, LATENT_DIM)
    score = teacher_score(latent @ u, latent @ w)
    y = score > np.median(score)
    y ^= rng.random(n) < LABEL_NOISE
    y = y.astype(np.float32)
    # The rows are i.i.d., so the first 4096 are as good a training set as any.
    return RawData(
        name="seed-binary",
        task="binary",
        x=x[:SEED_BINARY_TRAIN],
        y=y[:SEED_BINARY_TRAIN],
        x_test=x[SEED_BINARY_TRAIN:],
        y_test=y[SEED_BINARY_TRAIN:],
        description=(
            f"synthetic, seed {seed}: 100 noisy linear views of a {LATENT_DIM}-d Gaussian latent; label = "
            f"linear + |.| teacher on the latent above its median, {LABEL_NOISE:.0%} of labels flipped"
        ),
        classes=("0", "1"),
    )


# --- scikit-learn's bundled data ---------------------------------------------------------------
def _sklearn_raw(name: str, loader_name: str, what: str) -> RawData:
    """A scikit-learn bundled classification dataset, stratified 80/20 split with ``SPLIT_SEED``."""
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader_name)()
    x, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)
    classes = tuple(str(c) for c in bunch.target_names)
    train, test = split_indices(y, stratify=True, where=name, classes=classes)
    binary = len(classes) == 2
    y = y.astype(np.float32) if binary else y
    return RawData(
        name=name,
        task="binary" if binary else "multiclass",
        x=x[train],
        y=y[train],
        x_test=x[test],
        y_test=y[test],
        description=(
            f"scikit-learn's bundled {what}, sklearn.datasets.{loader_name} ({len(x)} x {x.shape[1]}); "
            f"stratified {SPLIT_NAME} split, random_state {SPLIT_SEED}"
        ),
        classes=classes,
    )


def make_breast_cancer() -> RawData:
    """Wisconsin diagnostic breast cancer: 569 x 30, binary (0 = malignant, 1 = benign)."""
    return _sklearn_raw("breast-cancer", "load_breast_cancer", "Wisconsin diagnostic breast cancer data")


def make_digits() -> RawData:
    """UCI optical handwritten digits, 8x8 images flattened to 64 features, 10 classes, 1797 rows."""
    return _sklearn_raw("digits", "load_digits", "8x8 handwritten digits (UCI)")


DIGITS_IMAGE_SHAPE = (1, 8, 8)


def make_digits_images() -> RawData:
    """``digits`` as images of shape ``(1, 8, 8)`` (C, H, W): the same rows in each part."""
    return to_images(make_digits(), DIGITS_IMAGE_SHAPE, "digits-images", "1-channel 8x8")


# --- mnist1d -----------------------------------------------------------------------------------
# A pinned copy of mnist1d.data.get_dataset_args() (mnist1d 0.0.2), minus the download URL, which
# make_dataset does not use. Pinned so the data (and the cache key) do not change silently if a new
# mnist1d changes its defaults; a test checks they still agree.
MNIST1D_ARGS: dict[str, object] = {
    "num_samples": 5000,
    "train_split": 0.8,
    "template_len": 12,
    "padding": [36, 60],
    "scale_coeff": 0.4,
    "max_translation": 48,
    "corr_noise_scale": 0.25,
    "iid_noise_scale": 2e-2,
    "shear_scale": 0.75,
    "shuffle_seq": False,
    "final_seq_length": 40,
    "seed": 42,
}
MNIST1D_KEYS = ("x", "y", "x_test", "y_test")
# Bump when the cached arrays change meaning, to orphan old cache files.
MNIST1D_CACHE_FORMAT = 1


def _generate_mnist1d() -> dict[str, np.ndarray]:
    """Run mnist1d's offline generator (~4 s). ``make_dataset`` reseeds numpy's and Python's global
    random generators; we restore both so loading data does not change anyone else's randomness."""
    # Imported here: the package pulls in matplotlib and scipy (~1.5 s), needed only on a cache miss.
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(ObjectView(dict(MNIST1D_ARGS)))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {key: np.asarray(data[key]) for key in MNIST1D_KEYS}


def make_mnist1d() -> RawData:
    """MNIST-1D: 40-sample 1-D signals of the 10 digits, 4000 train / 1000 test (its own split)."""
    params = {
        "args": MNIST1D_ARGS,
        "mnist1d": importlib.metadata.version("mnist1d"),
        "format": MNIST1D_CACHE_FORMAT,
    }
    arrays = cache.load_or_build("mnist1d", params, MNIST1D_KEYS, _generate_mnist1d)
    return RawData(
        name="mnist1d",
        task="multiclass",
        x=arrays["x"],
        y=arrays["y"].astype(np.int64),
        x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.int64),
        description=(
            "MNIST-1D (Greydanus 2020), generated offline by mnist1d.data.make_dataset with its default "
            "args (seed 42); its own 4000/1000 split"
        ),
        classes=tuple(str(d) for d in range(10)),
    )


@dataclass(frozen=True)
class Builtin:
    """A registry row: the canonical name, the function that makes the data and the options it
    takes (``make(**options)``, every declared option given)."""

    name: str
    make: Callable[..., RawData]
    options: tuple[Option, ...] = ()


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("breast-cancer", make_breast_cancer),
        Builtin("digits", make_digits),
        Builtin("digits-images", make_digits_images),
        Builtin("mnist1d", make_mnist1d),
        Builtin("modular-addition", make_modular_addition, MODULAR_OPTIONS),
        Builtin("seed-binary", make_seed_binary),
        Builtin("synthetic-ratings", make_synthetic_ratings, SYNTHETIC_OPTIONS),
    )
}
# Other spellings users type; "_" vs "-" and case are normalized before this lookup.
ALIASES: dict[str, str] = {
    "mnist-1d": "mnist1d",
    "breastcancer": "breast-cancer",
    "seedbinary": "seed-binary",
    "digits-image": "digits-images",
    "modular-add": "modular-addition",
    "modadd": "modular-addition",
    "synthetic-rating": "synthetic-ratings",
}
