"""``diagnose(model, inputs)``: vanishing, exploding, dead or symmetric signals, found before training.

    diagnosis = initopt.diagnose(model, x[:256], y[:256], loss="bce")
    print(diagnosis.verdict)          # Verdict.VANISHING
    for line in diagnosis.suggestions:
        print(line)                   # layer 14 (Linear 256->256, ReLU): activation std 0.0088 ...
    rich.print(diagnosis)             # the per-layer table

Measure (:mod:`initopt.doctor.probes`), judge (:mod:`.verdict`), advise (:mod:`.suggest`); the
table is drawn by :mod:`.table`. See docs/doctor.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from initopt.doctor.probes import probe
from initopt.doctor.suggest import Suggestion, suggest
from initopt.doctor.verdict import LayerDiagnosis, Verdict, judge, overall

if TYPE_CHECKING:
    from initopt._terminal import Fit

__all__ = ["Diagnosis", "diagnose"]


@dataclass(frozen=True)
class Diagnosis:
    """The verdict on a model's initialization, per layer and overall, with what to change.

    ``layers``: one :class:`~initopt.doctor.verdict.LayerDiagnosis` per layer in forward order
    (``.layer`` holds the measurements, ``.verdict`` and ``.reason`` the judgement). ``advice``:
    typed suggestions; ``suggestions``: their text. ``backward`` says how the gradients were
    seeded (``"loss bce"`` or ``"surrogate"``); ``input_std`` is None for integer inputs.
    """

    layers: list[LayerDiagnosis]
    verdict: Verdict
    advice: list[Suggestion]
    input_std: float | None
    backward: str
    loss: float | None
    batch_size: int
    train_mode: bool

    @property
    def suggestions(self) -> list[str]:
        """Concrete lines, one per problem, most severe first (empty when healthy)."""
        return [item.text for item in self.advice]

    @property
    def verdicts(self) -> list[Verdict]:
        """The per-layer verdicts, in forward order."""
        return [item.verdict for item in self.layers]

    @property
    def healthy(self) -> bool:
        return self.verdict is Verdict.HEALTHY

    def to_dict(self) -> dict[str, Any]:
        """Plain data (str, float, int, list, dict): JSON-ready, except that inf/NaN stay floats."""
        layers = []
        for item in self.layers:
            layer = asdict(item.layer)
            layer["output_shape"] = list(item.layer.output_shape)
            if layer["weight"] is not None:
                layer["weight"]["shape"] = list(item.layer.weight.shape)  # type: ignore[union-attr]
            layers.append({**layer, "verdict": item.verdict.value, "reason": item.reason,
                           "act_ratio": item.act_ratio, "grad_ratio": item.grad_ratio})
        return {
            "verdict": self.verdict.value,
            "suggestions": self.suggestions,
            "advice": [{"layer": s.layer, "verdict": s.verdict.value, "text": s.text} for s in self.advice],
            "input_std": self.input_std,
            "backward": self.backward,
            "loss": self.loss,
            "batch_size": self.batch_size,
            "train_mode": self.train_mode,
            "layers": layers,
        }

    def __str__(self) -> str:
        size = f"{len(self.layers)} layers, batch {self.batch_size}"
        lines = [f"verdict: {self.verdict} ({size}, backward: {self.backward})"]
        lines += [f"  {item.layer.index:>3} {item.layer.name or '(root)'} ({item.layer.label}): {item.verdict}"
                  + (f" - {item.reason}" if item.reason else "") for item in self.layers]
        lines += [f"suggestion: {line}" for line in self.suggestions]
        return "\n".join(lines)

    def __rich__(self) -> Fit:
        from initopt.doctor.table import diagnosis_table

        return diagnosis_table(self)


def diagnose(
    model: nn.Module,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    targets: torch.Tensor | None = None,
    loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    *,
    seed: int = 0,
    train: bool = True,
) -> Diagnosis:
    """Diagnose ``model``'s initialization from one forward and one backward pass on ``inputs``.

    Per layer (module name, type, output shape): activation mean, std and max |a|; the fraction of
    dead ReLU units; the weight's std against the He (``sqrt(2 / fan_in)``) and Xavier
    (``sqrt(2 / (fan_in + fan_out))``) stds for its fans; the gradient std of the weight and of the
    layer's output; a symmetry score. Verdicts and thresholds: :mod:`initopt.doctor.verdict`.

    - ``targets`` and ``loss`` (a name such as ``"bce"`` or a callable ``loss(output, targets)``):
      the backward pass starts from the real loss. Without them, from a surrogate: a fixed random
      direction of unit norm per example (seeded by ``seed``).
    - ``train``: run as the first training step does (BatchNorm on batch statistics, dropout on);
      False: eval mode.
    - The model comes back as it went in: parameters, ``.grad``, every module's train/eval flag,
      its hooks, its buffers (BatchNorm's running statistics) and the global RNG state.

    A few hundred examples are enough; every statistic is over the whole batch.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"diagnose needs an nn.Module; got {type(model).__name__}")
    if (targets is None) != (loss is None):
        given, missing = ("targets", "loss") if loss is None else ("loss", "targets")
        raise ValueError(
            f"diagnose: {given} given without {missing};"
            " pass both (e.g. loss='bce'), or neither for a surrogate backward"
        )
    loss_fn = None
    if loss is not None:
        from initopt.training.losses import get_loss

        loss_fn = get_loss(loss)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int; got {seed!r}")
    measured = probe(model, inputs, targets, loss_fn, seed=seed, train=train)
    layers = judge(measured)
    return Diagnosis(
        layers=layers,
        verdict=overall(layers),
        advice=suggest(layers),
        input_std=measured.input_std,
        backward=measured.backward,
        loss=measured.loss,
        batch_size=measured.batch_size,
        train_mode=measured.train_mode,
    )
