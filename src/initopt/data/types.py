"""Records for datasets: what a dataset is (``DatasetInfo``) and what ``load`` hands back.

``RawData`` is what every source (built-in generator, CSV, npz) produces: numpy arrays split into
train and test, not yet standardized. ``initopt.data.loader`` turns it into ``Splits``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

Task = Literal["binary", "multiclass", "regression"]
Part = Literal["train", "val", "test"]
InputKind = Literal["values", "tokens", "pairs"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
PARTS: tuple[str, ...] = ("train", "val", "test")
# What the numbers of an input are: "values" are real features (float32, standardized); "tokens" are
# int64 ids in [0, vocab_size) (embedded by a model, never standardized); "pairs" are int64
# (user id, item id) rows of a recommender.
INPUT_KINDS: tuple[str, ...] = ("values", "tokens", "pairs")
INPUT_DTYPES: dict[str, torch.dtype] = {"values": torch.float32, "tokens": torch.int64, "pairs": torch.int64}

# Per task: (default_loss, default_metric). "bce" means binary cross-entropy on logits
# (torch.nn.BCEWithLogitsLoss): models emit one logit, not a probability.
TASK_DEFAULTS: dict[str, tuple[str, str]] = {
    "binary": ("bce", "accuracy"),
    "multiclass": ("cross_entropy", "accuracy"),
    "regression": ("mse", "mse"),
}
# The dtype of the target tensor for each task: BCEWithLogitsLoss wants float targets,
# CrossEntropyLoss wants int64 class indices.
TARGET_DTYPES: dict[str, torch.dtype] = {
    "binary": torch.float32,
    "multiclass": torch.int64,
    "regression": torch.float32,
}


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is: enough to build a model, a loss and a metric for it.

    Attributes:
        name: the name it was loaded under (``"digits"``, ``"csv:data.csv:label"``).
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        n_features: number of input values per example (the product of ``input_shape``).
        n_classes: 2 for binary, k for multiclass, 0 for regression.
        input_shape: shape of one example, e.g. ``(100,)``.
        output_dim: width of the model's last layer: 1 for binary and regression, k for multiclass.
        default_loss: ``"bce"`` (on logits), ``"cross_entropy"`` or ``"mse"``.
        default_metric: ``"accuracy"`` for classification, ``"mse"`` for regression.
        n_train, n_test: number of examples in each split.
        n_val: number of examples held out of the training data for validation (0: none).
        description: one line: where the data come from and how they were made.
        classes: the original label of each class index (``classes[i]`` was mapped to ``i``);
            empty for regression.
        input_kind: ``"values"`` (float features), ``"tokens"`` (int64 ids in ``[0, vocab_size)``)
            or ``"pairs"`` (int64 ``(user id, item id)``).
        vocab_size: the number of token ids (``"tokens"`` inputs), else 0.
        n_users, n_items: the number of user and item ids (``"pairs"`` inputs), else 0.
        target_shape: the shape of one example's target: ``()`` for one target per example,
            ``(T,)`` for one class per position of a sequence (language modelling); the model then
            emits ``(T, output_dim)`` per example.
    """

    name: str
    task: Task
    n_features: int
    n_classes: int
    input_shape: tuple[int, ...]
    output_dim: int
    default_loss: str
    default_metric: str
    n_train: int
    n_test: int
    description: str
    classes: tuple[str, ...] = ()
    input_kind: InputKind = "values"
    vocab_size: int = 0
    n_users: int = 0
    n_items: int = 0
    target_shape: tuple[int, ...] = ()
    n_val: int = 0

    def __post_init__(self) -> None:
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"DatasetInfo.input_kind: {self.input_kind!r} is not one of {', '.join(INPUT_KINDS)}")
        if (self.input_kind == "tokens") != (self.vocab_size > 0):
            raise ValueError(f"DatasetInfo.vocab_size: {self.vocab_size} does not fit input_kind {self.input_kind!r}")
        if (self.input_kind == "pairs") != (self.n_users > 0 and self.n_items > 0):
            raise ValueError(
                f"DatasetInfo.n_users, n_items: {self.n_users}, {self.n_items} do not fit input_kind {self.input_kind!r}"
            )
        if self.target_shape and self.task != "multiclass":
            raise ValueError(f"DatasetInfo.target_shape: {self.target_shape} needs task 'multiclass', not {self.task!r}")
        if self.task not in TASKS:
            raise ValueError(f"DatasetInfo.task: {self.task!r} is not one of {', '.join(TASKS)}")
        if self.n_features != math.prod(self.input_shape):
            raise ValueError(
                f"DatasetInfo.n_features: {self.n_features} != prod(input_shape {self.input_shape})"
            )
        expected_classes = {"binary": 2, "regression": 0}.get(self.task, self.n_classes)
        if self.n_classes != expected_classes or (self.task == "multiclass" and self.n_classes < 2):
            raise ValueError(f"DatasetInfo.n_classes: {self.n_classes} does not fit task {self.task!r}")

    @classmethod
    def create(
        cls,
        name: str,
        task: Task,
        input_shape: tuple[int, ...],
        n_train: int,
        n_test: int,
        description: str,
        n_classes: int = 0,
        classes: tuple[str, ...] = (),
        *,
        input_kind: InputKind = "values",
        vocab_size: int = 0,
        n_users: int = 0,
        n_items: int = 0,
        target_shape: tuple[int, ...] = (),
        default_metric: str | None = None,
        n_val: int = 0,
    ) -> DatasetInfo:
        """Build an info, deriving ``n_features``, ``output_dim`` and the defaults from the task.

        ``default_metric`` overrides the task's (e.g. ``"rmse"`` for ratings)."""
        if task == "binary":
            n_classes = 2
        elif task == "regression":
            n_classes = 0
        loss, metric = TASK_DEFAULTS[task]
        return cls(
            name=name,
            task=task,
            n_features=math.prod(input_shape),
            n_classes=n_classes,
            input_shape=tuple(input_shape),
            output_dim=n_classes if task == "multiclass" else 1,
            default_loss=loss,
            default_metric=default_metric or metric,
            n_train=n_train,
            n_test=n_test,
            description=description,
            classes=tuple(classes),
            input_kind=input_kind,
            vocab_size=vocab_size,
            n_users=n_users,
            n_items=n_items,
            target_shape=tuple(target_shape),
            n_val=n_val,
        )


@dataclass(frozen=True, eq=False)
class Scaler:
    """Per-feature standardization fitted on the train split: ``x' = (x - mean) / std``.

    ``mean`` and ``std`` are float32 tensors of shape ``input_shape``. Use ``transform`` to bring
    new inputs (e.g. at prediction time) onto the scale the model was trained on.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """Standardize raw inputs ``x`` of shape ``(n, *input_shape)``."""
        return (x - self.mean) / self.std

    def inverse_transform(self, x: torch.Tensor) -> torch.Tensor:
        """Undo ``transform``."""
        return x * self.std + self.mean


@dataclass(frozen=True, eq=False)
class Split(Dataset):
    """One part (train or test) of a dataset, as a map-style ``torch.utils.data.Dataset``.

    Attributes:
        x: ``(n, *info.input_shape)``: float32 standardized with the train statistics for
            ``"values"`` inputs; int64 ids, as they are, for ``"tokens"`` and ``"pairs"`` inputs.
        y: binary: float32 ``(n,)`` of 0/1; multiclass: int64 ``(n, *info.target_shape)`` in
            ``0..k-1``; regression: float32 ``(n,)``.
        info: the dataset's ``DatasetInfo`` (shared by both parts).
        part: ``"train"`` or ``"test"``.
        scaler: the standardization that was applied (fitted on the train split), if any.

    The tensors may be shared with other callers of ``initopt.data.load`` (it caches): do not
    modify them in place; ``x.clone()`` first if you must.
    """

    x: torch.Tensor
    y: torch.Tensor
    info: DatasetInfo
    part: Part
    scaler: Scaler | None = None

    def __post_init__(self) -> None:
        if self.part not in PARTS:
            raise ValueError(f"Split.part: {self.part!r} is not one of {', '.join(PARTS)}")
        if tuple(self.x.shape[1:]) != self.info.input_shape:
            raise ValueError(
                f"Split.x: shape {tuple(self.x.shape)} does not match input_shape {self.info.input_shape}"
            )
        expected_y = (self.x.shape[0], *self.info.target_shape)
        if tuple(self.y.shape) != expected_y:
            raise ValueError(f"Split.y: shape {tuple(self.y.shape)}, expected {expected_y}")
        x_dtype = INPUT_DTYPES[self.info.input_kind]
        if self.x.dtype != x_dtype:
            raise ValueError(f"Split.x: dtype {self.x.dtype}, expected {x_dtype} for {self.info.input_kind!r} inputs")
        expected = TARGET_DTYPES[self.info.task]
        if self.y.dtype != expected:
            raise ValueError(f"Split.y: dtype {self.y.dtype}, expected {expected} for task {self.info.task!r}")

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)``, e.g. for ``torch.utils.data.TensorDataset(*split.tensors)``."""
        return self.x, self.y

    def __repr__(self) -> str:
        def shape(t: torch.Tensor) -> str:
            return f"{str(t.dtype).removeprefix('torch.')}{list(t.shape)}"

        return f"Split(name={self.info.name!r}, part={self.part!r}, x={shape(self.x)}, y={shape(self.y)})"


class Splits(NamedTuple):
    """The train and test parts: ``train, test = initopt.data.load("digits")``."""

    train: Split
    test: Split

    @property
    def info(self) -> DatasetInfo:
        """The dataset's ``DatasetInfo`` (the same object on both parts)."""
        return self.train.info


class ValidatedSplits(NamedTuple):
    """Train, validation and test: ``train, val, test = initopt.data.load_validated("digits", 0.2)``.

    ``val`` is ``None`` when no validation split was held out (``validation=0``)."""

    train: Split
    val: Split | None
    test: Split

    @property
    def info(self) -> DatasetInfo:
        """The dataset's ``DatasetInfo`` (the same object on every part)."""
        return self.train.info


@dataclass(frozen=True, eq=False)
class RawData:
    """What a source produces: split numpy arrays before standardization, plus what they are.

    ``x``/``x_test`` have shape ``(n, *input_shape)`` (any real dtype; int64 ids for ``"tokens"`` and
    ``"pairs"`` inputs, which are not standardized); ``y``/``y_test`` are already encoded for the task
    (0/1, class indices 0..k-1, or real values), shape ``(n,)`` or ``(n, T)`` for per-token targets.
    ``default_metric`` overrides the task's default (``""``: the task's).
    """

    name: str
    task: Task
    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    description: str
    classes: tuple[str, ...] = ()
    input_kind: InputKind = "values"
    vocab_size: int = 0
    n_users: int = 0
    n_items: int = 0
    default_metric: str = ""
