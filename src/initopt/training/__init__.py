"""The Keras-style training loop: ``fit``, ``evaluate``, ``History``, callbacks, losses and metrics."""

from initopt.training.callbacks import Callback, EarlyStopping, LoopState
from initopt.training.history import History
from initopt.training.losses import LOSSES, get_loss
from initopt.training.loop import evaluate, fit
from initopt.training.metrics import accuracy, get_metric

__all__ = ["Callback", "EarlyStopping", "History", "LOSSES", "LoopState", "accuracy", "evaluate", "fit", "get_loss", "get_metric"]
