"""From measurements to verdicts: healthy, vanishing, exploding, dead or symmetric, per layer and overall.

The thresholds are named below with the reason for each. Signal scales are judged as *ratios*, so
that a dataset whose inputs are not standardized is judged the same as one whose are:

- activation ratio = std of the layer's output / std of the model's input (1 for integer inputs);
- gradient ratio   = std of d(loss)/d(layer output) / the same at the reference layer, the deepest
  layer whose output is not the model's output (the last hidden layer of an MLP) and whose gradient
  is finite and non-zero. The model's output layer is left out of the reference because its width
  (1 logit, 10 classes) sets its per-element gradient, not the initialization.

A layer gets the first verdict of ``SEVERITY`` whose test it meets:

1. symmetric: at least ``SYMMETRIC_FRACTION`` of its units duplicate another unit's incoming
   weights *and* gradients (``symmetry_kept``), so gradient descent can never tell them apart.
   A zero-initialized output layer, or the last layer of a residual branch, has symmetric weights
   but different gradients per unit: not symmetric. A layer whose gradient is exactly zero because
   such a zero layer downstream blocks it is judged once that layer has moved (measured on a copy,
   see ``probes._after_unblocking``). Without a backward pass: the weights alone.
2. exploding: a non-finite activation or gradient, or a ratio above ``EXPLODING_RATIO``.
3. vanishing: a ratio below ``VANISHING_RATIO``. A layer whose own weights are all exactly zero is
   not judged on its activations (its output is zero by design: a zero head, a zero residual
   branch end, ``zero_init_residual``'s BatchNorm), nor is a layer that ends a residual branch
   (``LayerProbe.residual``): its output is added to the stream, which carries the signal, and
   GPT-2 draws it small on purpose (``0.02 / sqrt(2 * layers)``: x0.006 the input's in a 6-layer,
   64-wide transformer). A gradient that is exactly zero is blocked (by a zero layer downstream),
   not vanishing, and is not judged either.
4. dead: at least ``DEAD_FRACTION`` of its rectified units are zero for every input of the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from initopt.doctor.probes import LayerProbe, Probe

__all__ = [
    "DEAD_FRACTION",
    "EXPLODING_RATIO",
    "SEVERITY",
    "SYMMETRIC_FRACTION",
    "VANISHING_RATIO",
    "LayerDiagnosis",
    "Verdict",
    "judge",
    "overall",
]

#: Activation or gradient std below 1/100 of the reference: a 50-layer ReLU MLP with Xavier weights
#: crosses it at layer ~14 (x0.71 per layer), one with N(0, 0.01^2) weights at layer ~2.
VANISHING_RATIO = 1e-2
#: Above 100x the reference: N(0, 1) weights on 256-wide ReLU layers cross it at layer 2 (x11 per
#: layer). He-initialized ReLU MLPs of depth 50 stay within about 0.3x-3x (finite-width noise).
EXPLODING_RATIO = 1e2
#: Rectified units that are 0 for every input. Not 0.5: at He init the representations of
#: different inputs align with depth, so each unit tends to be on for all or off for all of them,
#: and about 40-45% of the units of a 50-layer, 256-wide ReLU MLP are off for a whole batch of 256
#: (measured; see docs/doctor.md). 70% leaves that margin; genuinely dead layers (large negative
#: biases) sit near 100%.
DEAD_FRACTION = 0.7
#: More than half of the units are copies of another unit: zero or constant weights give 1.0,
#: random draws 0.0, so any threshold in between separates them; half reads as "most units".
SYMMETRIC_FRACTION = 0.5


class Verdict(str, Enum):
    """The state of a layer's signal (or of the whole model: its most severe layer's)."""

    HEALTHY = "healthy"
    VANISHING = "vanishing"
    EXPLODING = "exploding"
    DEAD = "dead"
    SYMMETRIC = "symmetric"

    def __str__(self) -> str:
        return self.value


#: Most severe first: symmetry is a root cause that also zeroes the signal, and an exploding or
#: vanishing signal makes dead-unit counts meaningless.
SEVERITY: tuple[Verdict, ...] = (Verdict.SYMMETRIC, Verdict.EXPLODING, Verdict.VANISHING, Verdict.DEAD)


@dataclass(frozen=True)
class LayerDiagnosis:
    """A layer's measurements, its verdict and why: ``reason`` is a short phrase for the table.

    ``act_ratio`` and ``grad_ratio`` are the ratios defined in the module docstring (None where
    undefined: non-finite values, no backward pass, a gradient that is exactly zero, the model's
    output layer for the gradient).
    """

    layer: LayerProbe
    verdict: Verdict
    reason: str
    act_ratio: float | None
    grad_ratio: float | None


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _gradient_reference(layers: list[LayerProbe]) -> float | None:
    for layer in reversed(layers):
        grad = layer.output_grad_std
        if not layer.is_output and grad is not None and math.isfinite(grad) and grad > 0:
            return grad
    return None


def _ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or value == 0.0 or not math.isfinite(value):
        return None
    return value / reference


def _symmetric(layer: LayerProbe) -> str | None:
    weight = layer.weight
    if weight is None or weight.symmetry is None:
        return None
    kept = weight.symmetry_kept
    if kept is None:  # no backward pass: the weights alone, except at the output (it never stays symmetric)
        kept = None if layer.is_output else weight.symmetry
    if kept is not None and kept >= SYMMETRIC_FRACTION:
        return f"{kept:.0%} of units identical"
    return None


def _exploding(layer: LayerProbe, act_ratio: float | None, grad_ratio: float | None) -> str | None:
    act = layer.act
    if not (math.isfinite(act.std) and math.isfinite(act.max_abs)):
        return "activations overflow (inf/nan)"
    if act_ratio is not None and act_ratio > EXPLODING_RATIO:
        return f"activation std x{act_ratio:.2g} the input's"
    if layer.output_grad_std is not None and not math.isfinite(layer.output_grad_std):
        return "gradients overflow (inf/nan)"
    if grad_ratio is not None and grad_ratio > EXPLODING_RATIO:
        return f"gradient std x{grad_ratio:.2g} the deepest hidden layer's"
    return None


def _vanishing(layer: LayerProbe, act_ratio: float | None, grad_ratio: float | None) -> str | None:
    zero_by_design = (layer.weight is not None and layer.weight.all_zero) or layer.residual
    if act_ratio is not None and act_ratio < VANISHING_RATIO and not zero_by_design:
        return f"activation std x{act_ratio:.2g} the input's"
    if grad_ratio is not None and grad_ratio < VANISHING_RATIO:
        return f"gradient std x{grad_ratio:.2g} the deepest hidden layer's"
    return None


def _dead(layer: LayerProbe) -> str | None:
    if layer.dead_fraction is not None and layer.dead_fraction >= DEAD_FRACTION:
        return f"{layer.dead_fraction:.0%} of units never fire"
    return None


def _judge_layer(layer: LayerProbe, input_scale: float, grad_reference: float | None) -> LayerDiagnosis:
    act_ratio = layer.act.std / input_scale if math.isfinite(layer.act.std) else None
    grad_ratio = None if layer.is_output else _ratio(layer.output_grad_std, grad_reference)
    checks = (
        (Verdict.SYMMETRIC, lambda: _symmetric(layer)),
        (Verdict.EXPLODING, lambda: _exploding(layer, act_ratio, grad_ratio)),
        (Verdict.VANISHING, lambda: _vanishing(layer, act_ratio, grad_ratio)),
        (Verdict.DEAD, lambda: _dead(layer)),
    )
    for verdict, check in checks:
        reason = check()
        if reason is not None:
            return LayerDiagnosis(layer, verdict, reason, act_ratio, grad_ratio)
    return LayerDiagnosis(layer, Verdict.HEALTHY, "", act_ratio, grad_ratio)


def judge(probe: Probe) -> list[LayerDiagnosis]:
    """A verdict for every layer of ``probe``, with the thresholds of this module."""
    scale = probe.input_std if _finite(probe.input_std) and probe.input_std > 0 else 1.0  # type: ignore[operator]
    reference = _gradient_reference(probe.layers)
    return [_judge_layer(layer, scale, reference) for layer in probe.layers]


def overall(layers: list[LayerDiagnosis]) -> Verdict:
    """The most severe verdict (in ``SEVERITY`` order) any layer has; healthy if none has one."""
    present = {layer.verdict for layer in layers}
    return next((verdict for verdict in SEVERITY if verdict in present), Verdict.HEALTHY)
