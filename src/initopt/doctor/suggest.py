"""What to change: one concrete line per problem, naming the layer, the numbers and the scheme to use.

    layer 7 (Linear 256->256, ReLU): activation std 3.2e-07 after 7 layers (x0.12 per layer);
    weight std 0.010 is 8.8x below He (0.088); use he_normal

The scheme follows the activation the layer feeds (He et al. 2015 for rectifiers, LeCun for SELU,
Glorot & Bengio 2010 for tanh/sigmoid/linear), and the weight is compared with that scheme's std
for the layer's fans. The first layer showing each verdict gets a line: later layers repeat it.
"""

from __future__ import annotations

from dataclasses import dataclass

from initopt.doctor.probes import LayerProbe, WeightProbe
from initopt.doctor.verdict import SEVERITY, LayerDiagnosis, Verdict
from initopt.init.model_schemes import GPT2_STD

__all__ = ["Suggestion", "suggest"]

#: A weight std within this factor of its target counts as matching it. Draws of a 256x256 matrix
#: differ from their std by ~1%; the gap that matters compounds with depth: sqrt(2) (Xavier vs He
#: on equal fans) shrinks a ReLU signal below 1e-2 in about 13 layers, so 1.2 keeps it out of "matching".
MATCH_FACTOR = 1.2
#: A bias whose mean is further than this from 0 moves the units' operating point: at |b| = 0.1 a
#: unit-variance pre-activation is already shifted by a tenth of its std.
BIAS_SHIFT = 0.1
_HE_ACTIVATIONS = frozenset(
    {"ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "CELU", "GELU", "SiLU", "Mish", "Softplus", "Hardswish"}
)
_LECUN_ACTIVATIONS = frozenset({"SELU"})
#: The scheme suggested for an embedding table, and the std it is compared with: GPT-2's
#: N(0, 0.02^2) (Radford et al. 2019; initopt.init.model_schemes). A lookup sums nothing, so a table
#: has no fans for He or Xavier to scale by.
EMBEDDING_SCHEME = "gpt2"


@dataclass(frozen=True)
class Suggestion:
    """One line of advice about the first layer (1-based ``layer`` index) with ``verdict``."""

    layer: int
    verdict: Verdict
    text: str

    def __str__(self) -> str:
        return self.text


def _target(layer: LayerProbe, weight: WeightProbe) -> tuple[str, str, float | None]:
    """(scheme to use, its short name, its std for this weight's fans) for the activation ``layer`` feeds."""
    if layer.activation in _HE_ACTIVATIONS:
        return "he_normal", "He", weight.he_std
    if layer.activation in _LECUN_ACTIVATIONS:
        return "lecun_normal", "LeCun", weight.lecun_std
    return "xavier_normal", "Xavier", weight.xavier_std


def _weight_phrase(weight: WeightProbe, label: str, target: float | None) -> tuple[str, bool]:
    """("weight std 0.010 is 8.8x below He (0.088)", whether the std is off target)."""
    if weight.std == 0.0:
        value = "all 0" if weight.mean == 0.0 else f"all {weight.mean:.3g}"
        return f"weights are {value} ({label} std {target:.3f})" if target else f"weights are {value}", True
    if target is None:
        return f"weight std {weight.std:.3g}", False
    ratio = weight.std / target
    if ratio > MATCH_FACTOR:
        return f"weight std {weight.std:.3f} is {ratio:.2g}x above {label} ({target:.3f})", True
    if ratio < 1 / MATCH_FACTOR:
        return f"weight std {weight.std:.3f} is {1 / ratio:.2g}x below {label} ({target:.3f})", True
    return f"weight std {weight.std:.3f} matches {label} ({target:.3f})", False


def _is_table(layer: LayerProbe) -> bool:
    """An embedding table of width > 1 (a width-1 table is a bias per index)."""
    return layer.module_type == "Embedding" and layer.weight is not None and layer.weight.shape[-1] > 1


def _weighted(layers: list[LayerDiagnosis], index: int) -> tuple[LayerProbe, WeightProbe] | None:
    """The layer at ``index`` if it has a matrix weight (or an embedding table), else the nearest earlier one that does."""
    for item in reversed(layers[: index + 1]):
        weight = item.layer.weight
        if weight is not None and (weight.fan_in is not None or _is_table(item.layer)):
            return item.layer, weight
    return None


def _layers(n: int) -> str:
    return f"{n} layer" + ("" if n == 1 else "s")


def _symptom(item: LayerDiagnosis) -> str:
    layer, n = item.layer, item.layer.index
    if item.verdict is Verdict.SYMMETRIC:
        weight = layer.weight
        units = 0 if weight is None else weight.shape[1] if _is_table(layer) else weight.shape[0]
        if weight is not None and weight.symmetry_kept is not None:
            return (f"{weight.symmetry_kept:.0%} of its {units} units have identical weights and gradients,"
                    " so training cannot tell them apart")
        share = weight.symmetry if weight is not None and weight.symmetry is not None else 1.0
        return f"{share:.0%} of its {units} units have identical incoming weights"
    if item.verdict is Verdict.DEAD:
        units = layer.activation or layer.module_type
        return f"{layer.dead_fraction:.0%} of its {units} units output 0 for every input"
    if "overflow" in item.reason:
        return f"{item.reason.split(' (')[0]} to inf/nan after {_layers(n)}"
    if _from_gradient(item):
        return (f"gradient std {layer.output_grad_std:.2g} at its output,"
                f" {item.grad_ratio:.2g}x the deepest hidden layer's")
    per_layer = f" (x{item.act_ratio ** (1 / n):.2g} per layer)" if item.act_ratio else ""
    return f"activation std {layer.act.std:.2g} after {_layers(n)}{per_layer}"


def _deviates(layer: LayerProbe, weight: WeightProbe, verdict: Verdict) -> bool:
    """The weight is off its target in the direction that causes ``verdict`` (below: vanishing)."""
    _, _, target = _target(layer, weight)
    if target is None:
        return False
    ratio = weight.std / target
    return ratio < 1 / MATCH_FACTOR if verdict is Verdict.VANISHING else ratio > MATCH_FACTOR


def _cause(layers: list[LayerDiagnosis], position: int) -> tuple[tuple[LayerProbe, WeightProbe] | None, int, int]:
    """The layer whose weights to blame, how many layers up to ``position`` deviate, how many have weights.

    For a vanishing or exploding signal: the flagged layer if its own weights deviate the right
    way (unless it is the output layer, which only inherits the signal), else the first layer that
    does, else the flagged layer (its weights are on target). Otherwise: the flagged layer.
    """
    item = layers[position]
    own = _weighted(layers, position)
    if item.verdict not in (Verdict.VANISHING, Verdict.EXPLODING):
        return own, 0, 0
    weighted = [(x.layer, x.layer.weight) for x in layers[: position + 1] if x.layer.weight and x.layer.weight.fan_in]
    deviating = [(layer, w) for layer, w in weighted if _deviates(layer, w, item.verdict)]  # type: ignore[arg-type]
    if own is not None and own in deviating and not own[0].is_output:
        return own, len(deviating), len(weighted)
    return (deviating[0] if deviating else own), len(deviating), len(weighted)  # type: ignore[return-value]


def _shifted_bias(layers: list[LayerDiagnosis], position: int) -> LayerProbe | None:
    """The first layer up to ``position`` whose bias mean is far from zero."""
    for item in layers[: position + 1]:
        weight = item.layer.weight
        if weight is not None and weight.bias_mean is not None and abs(weight.bias_mean) > BIAS_SHIFT:
            return item.layer
    return None


def _remedy(layers: list[LayerDiagnosis], position: int, scheme: str, off_target: bool) -> str:
    item = layers[position]
    if item.verdict is Verdict.SYMMETRIC:
        return f"use {scheme} (random weights break the symmetry; zeros are fine for biases)"
    if item.verdict is Verdict.DEAD:
        weight = item.layer.weight
        if weight is not None and weight.bias_mean is not None and weight.bias_mean < -BIAS_SHIFT:
            return f"its bias mean is {weight.bias_mean:.3g}: use bias='zeros' with {scheme}, or LeakyReLU"
        return f"use {scheme}, or LeakyReLU/GELU"
    if off_target:
        return f"use {scheme}"
    shifted = _shifted_bias(layers, position)
    if shifted is not None:
        mean = shifted.weight.bias_mean  # type: ignore[union-attr]
        return f"layer {shifted.index}'s bias mean is {mean:.3g}, which moves the units off zero: use bias='zeros'"
    return ("the scale is lost elsewhere (the activation's gain, residual sums, missing normalization):"
            " use lsuv, which measures and rescales each layer on a batch (initopt.init.lsuv(model, batch))")


def _line(layers: list[LayerDiagnosis], position: int) -> str:
    item = layers[position]
    parts = [f"layer {item.layer.index} ({item.layer.label}): {_symptom(item)}"]
    cause, deviating, weighted = _cause(layers, position)
    scheme, off_target = "he_normal", True
    if cause is not None:
        owner, weight = cause
        scheme, label, target = _target(owner, weight)
        if _is_table(owner):  # a table has no fans to scale by: compare it with GPT-2's
            scheme, label, target = EMBEDDING_SCHEME, "GPT-2", GPT2_STD
        phrase, off_target = _weight_phrase(weight, label, target)
        if owner is not item.layer:
            phrase = f"layer {owner.index}'s {phrase}"
        if owner is not item.layer and deviating > 1:
            side = "below" if item.verdict is Verdict.VANISHING else "above"
            phrase += (f", as are all {weighted} layers' up to here" if deviating == weighted
                       else f" ({deviating} of the {weighted} layers up to here are {side} target)")
        parts.append(phrase)
    parts.append(_remedy(layers, position, scheme, off_target))
    return "; ".join(parts)


def _from_gradient(item: LayerDiagnosis) -> bool:
    """True when the verdict comes from the gradient, not the activations."""
    return item.reason.startswith("gradient")


def suggest(layers: list[LayerDiagnosis]) -> list[Suggestion]:
    """One suggestion per verdict present, most severe first, about the first layer that has it."""
    out = []
    for verdict in SEVERITY:
        positions = [i for i, item in enumerate(layers) if item.verdict is verdict]
        # A forward symptom names the layer where the signal goes wrong; a backward one (all the
        # gradients are NaN once the loss is) names where it shows last. Prefer the forward one.
        forward = [i for i in positions if not _from_gradient(layers[i])]
        position = (forward or positions or [None])[0]
        if position is not None:
            out.append(Suggestion(layers[position].layer.index, verdict, _line(layers, position)))
    return out
