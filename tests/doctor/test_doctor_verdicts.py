"""Verdicts and suggestions on deep ReLU MLPs, and the per-layer numbers against direct computation."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

import initopt.init as ii
from initopt.doctor import Verdict, diagnose
from initopt.doctor.verdict import DEAD_FRACTION, EXPLODING_RATIO, VANISHING_RATIO
from initopt.models import deep_mlp, mlp

DEPTH, WIDTH, FEATURES, BATCH = 30, 64, 20, 128
HE_STD = math.sqrt(2 / WIDTH)  # 0.177


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, FEATURES, generator=g)
    y = (x[:, 0] > 0).float()
    return x, y


def deep(scheme, *, bias="zeros", depth=DEPTH, activation="relu", rules=None) -> nn.Module:
    model = deep_mlp(FEATURES, depth, WIDTH, 1, activation)
    ii.initialize(model, ii.get(scheme), ii.get(bias), seed=0, rules=rules)
    return model


# scheme -> the verdict the issue requires on a ReLU MLP of >= 30 layers (and Xavier's, which
# shrinks the signal x0.71 per ReLU layer: 30 layers take it below 1e-2).
CASES = [
    ("zeros", Verdict.SYMMETRIC),
    ({"name": "constant", "value": 0.05}, Verdict.SYMMETRIC),
    ({"name": "gaussian", "std": 1.0}, Verdict.EXPLODING),
    ({"name": "gaussian", "std": 0.01}, Verdict.VANISHING),
    ("xavier_normal", Verdict.VANISHING),
    ("he_normal", Verdict.HEALTHY),
    ("he_uniform", Verdict.HEALTHY),
]


@pytest.mark.parametrize(("scheme", "expected"), CASES, ids=[str(c[0]) for c in CASES])
@pytest.mark.parametrize("backward", ["loss", "surrogate"])
def test_verdict_on_a_30_layer_relu_mlp(batch, scheme, expected, backward):
    x, y = batch
    diagnosis = diagnose(deep(scheme), x, y, "bce") if backward == "loss" else diagnose(deep(scheme), x)
    assert diagnosis.verdict is expected, diagnosis
    assert len(diagnosis.layers) == DEPTH + 1
    assert diagnosis.healthy == (expected is Verdict.HEALTHY)
    assert (diagnosis.suggestions == []) == (expected is Verdict.HEALTHY)
    if expected is not Verdict.HEALTHY:
        assert diagnosis.advice[0].verdict is expected


def test_he_stays_healthy_at_depth_50(batch):
    x, y = batch
    assert diagnose(deep("he_normal", depth=50), x, y, "bce").verdict is Verdict.HEALTHY


def test_vanishing_suggestion_names_layer_numbers_and_scheme(batch):
    x, y = batch
    diagnosis = diagnose(deep({"name": "gaussian", "std": 0.01}), x, y, "bce")
    line = diagnosis.suggestions[0]
    # per layer: x sqrt(64 * 0.01^2 / 2) = x0.057, so the input's std falls below 1e-2 at layer 2
    assert re.fullmatch(
        r"layer 2 \(Linear 64->64, ReLU\): activation std \S+ after 2 layers \(x0\.\d+ per layer\); "
        r"weight std 0\.010 is 18x below He \(0\.177\); use he_normal",
        line,
    ), line
    # layer 1's activations are still above 1e-2, but its gradient is not: the line names the forward symptom
    first, second = diagnosis.layers[:2]
    assert first.verdict is Verdict.VANISHING and first.reason.startswith("gradient std") and first.act_ratio > VANISHING_RATIO
    assert second.verdict is Verdict.VANISHING and second.reason.startswith("activation std")


def test_exploding_suggestion(batch):
    x, y = batch
    line = diagnose(deep({"name": "gaussian", "std": 1.0}), x, y, "bce").suggestions[0]
    assert re.fullmatch(
        r"layer \d \(Linear 64->64, ReLU\): activation std \S+ after \d layers \(x\d\.\d per layer\); "
        r"weight std 1\.0\d\d is 5\.\dx above He \(0\.177\); use he_normal",
        line,
    ), line


def test_symmetric_suggestion(batch):
    x, y = batch
    line = diagnose(deep("zeros"), x, y, "bce").suggestions[0]
    assert line.startswith("layer 1 (Linear 20->64, ReLU): 100% of its 64 units have identical weights and gradients")
    assert "weights are all 0 (He std 0.316)" in line and line.endswith("use he_normal (random weights break the symmetry; zeros are fine for biases)")


def test_xavier_names_the_first_layer_below_the_threshold(batch):
    x, y = batch
    diagnosis = diagnose(deep("xavier_normal"), x, y, "bce")
    ratios = [item.act_ratio for item in diagnosis.layers]
    first_below = next(i for i, r in enumerate(ratios) if r < VANISHING_RATIO)
    assert diagnosis.advice[0].layer == first_below + 1
    assert "is 1.4x below He (0.177); use he_normal" in diagnosis.suggestions[0]


def test_dead_relu_units_from_negative_biases(batch):
    x, y = batch
    model = mlp(FEATURES, [WIDTH, WIDTH], 1)
    ii.initialize(model, "he_normal", seed=0)
    with torch.no_grad():
        model[0].bias[:52] = -20.0  # 52 of 64 units: their pre-activations (std < 3) never reach 20
    diagnosis = diagnose(model, x, y, "bce")
    first = diagnosis.layers[0]
    assert first.verdict is Verdict.DEAD and first.layer.dead_fraction == pytest.approx(52 / 64)
    assert diagnosis.verdict is Verdict.DEAD
    line = diagnosis.suggestions[0]
    assert line.startswith("layer 1 (Linear 20->64, ReLU): 81% of its ReLU units output 0 for every input")
    assert line.endswith("its bias mean is -16.2: use bias='zeros' with he_normal, or LeakyReLU")


def test_negative_biases_that_shrink_the_signal_are_named(batch):
    x, y = batch
    diagnosis = diagnose(deep("he_normal", bias={"name": "constant", "value": -1.0}, depth=8), x, y, "bce")
    assert diagnosis.verdict is Verdict.VANISHING
    assert "matches He" in diagnosis.suggestions[0]
    assert diagnosis.suggestions[0].endswith("layer 1's bias mean is -1, which moves the units off zero: use bias='zeros'")


def test_zero_output_layer_and_zero_residual_branch_ends_are_healthy(batch):
    x, y = batch
    model = deep("he_normal", rules={"@last": "zeros"})
    assert diagnose(model, x, y, "bce").verdict is Verdict.HEALTHY
    ten_classes = deep_mlp(FEATURES, 8, WIDTH, 10)
    ii.initialize(ten_classes, "he_normal", seed=0, rules={"@last": "zeros"})
    diagnosis = diagnose(ten_classes, x)
    assert diagnosis.verdict is Verdict.HEALTHY
    # the head blocks every gradient at step 0; measured again once it has moved, nothing stays symmetric
    assert all(item.layer.weight.symmetry_kept == 0.0 for item in diagnosis.layers)

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Linear(FEATURES, WIDTH)
            self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH)) for _ in range(4))
            self.head = nn.Linear(WIDTH, 10)

        def forward(self, h: torch.Tensor) -> torch.Tensor:
            h = self.stem(h)
            for block in self.blocks:
                h = h + block(h)
            return self.head(h)

    net = Residual()
    ii.initialize(net, "he_normal", seed=0, rules={"blocks.*.2": "zeros", "head": "zeros"})  # Fixup / SkipInit style
    diagnosis = diagnose(net, x)
    assert diagnosis.verdict is Verdict.HEALTHY, diagnosis
    assert diagnosis.layers[-1].layer.weight.symmetry == 1.0  # symmetric weights, but not kept: not a verdict


def test_numbers_match_a_direct_computation(batch):
    x, y = batch
    model = mlp(FEATURES, [WIDTH, WIDTH], 1)
    ii.initialize(model, "he_normal", "zeros", seed=3)
    with torch.no_grad():
        model[0].bias[:5] = -100.0  # five units of layer 1 can never fire
    diagnosis = diagnose(model, x, y, "bce")
    first = diagnosis.layers[0].layer

    hidden = torch.relu(model[0](x)).detach()
    assert first.act.std == pytest.approx(float(hidden.double().std(correction=0)), rel=1e-6)
    assert first.act.mean == pytest.approx(float(hidden.double().mean()), rel=1e-6)
    assert first.act.max_abs == pytest.approx(float(hidden.abs().max()), rel=1e-6)
    assert first.dead_fraction == pytest.approx(float((hidden == 0).all(dim=0).double().mean()))
    assert first.dead_fraction >= 5 / WIDTH
    assert first.output_shape == (BATCH, WIDTH) and first.activation == "ReLU" and first.label == "Linear 20->64, ReLU"
    weight = first.weight
    assert (weight.fan_in, weight.fan_out) == (FEATURES, WIDTH)
    assert weight.he_std == pytest.approx(math.sqrt(2 / FEATURES))
    assert weight.xavier_std == pytest.approx(math.sqrt(2 / (FEATURES + WIDTH)))
    assert weight.std == pytest.approx(float(model[0].weight.detach().double().std(correction=0)))

    # gradients: an explicit backward of the same loss on a copy
    copy = mlp(FEATURES, [WIDTH, WIDTH], 1)
    copy.load_state_dict(model.state_dict())
    h1 = torch.relu(copy[0](x))
    h1.retain_grad()
    out = copy[4](torch.relu(copy[2](h1)))
    loss = nn.functional.binary_cross_entropy_with_logits(out.squeeze(-1), y)
    loss.backward()
    assert diagnosis.loss == pytest.approx(loss.item(), rel=1e-6)
    assert weight.grad_std == pytest.approx(float(copy[0].weight.grad.double().std(correction=0)), rel=1e-5)
    assert first.output_grad_std == pytest.approx(float(h1.grad.double().std(correction=0)), rel=1e-5)


def test_thresholds_are_ordered_and_documented():
    assert VANISHING_RATIO < 1 < EXPLODING_RATIO and 0.5 < DEAD_FRACTION < 1


def test_to_dict_is_plain_data(batch):
    import json

    x, y = batch
    diagnosis = diagnose(deep({"name": "gaussian", "std": 0.01}, depth=4), x, y, "bce")
    data = json.loads(json.dumps(diagnosis.to_dict()))
    assert data["verdict"] == "vanishing" and data["backward"] == "loss bce" and data["batch_size"] == BATCH
    assert data["suggestions"] == diagnosis.suggestions
    row = data["layers"][1]
    assert row["name"] == "2" and row["module_type"] == "Linear" and row["output_shape"] == [BATCH, WIDTH]
    assert row["verdict"] == "vanishing" and row["weight"]["shape"] == [WIDTH, WIDTH]
    assert set(row["act"]) == {"mean", "std", "max_abs"} and "symmetry" in row["weight"]
    assert str(diagnosis).startswith("verdict: vanishing (5 layers")


def test_rich_table_renders_every_layer(batch):
    from rich.console import Console

    x, y = batch
    console = Console(width=120, record=True)
    with console.capture() as captured:
        console.print(diagnose(deep("he_normal", depth=3), x, y, "bce"))
    text = captured.get()
    assert "init doctor: healthy (4 layers" in text
    for header in ("act mean", "act std", "max |a|", "dead", "w std", "He", "Xavier", "grad w", "grad out", "sym", "verdict"):
        assert header in text
    assert "6 Linear 64->1" in text and max(map(len, text.splitlines())) <= 120


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"targets": torch.zeros(4)}, "targets given without loss"),
        ({"loss": "bce"}, "loss given without targets"),
        ({"targets": torch.zeros(4), "loss": "bcee"}, "unknown loss 'bcee'"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        diagnose(mlp(3, [4], 1), torch.randn(4, 3), **kwargs)


def test_a_chain_of_zero_layers_stays_symmetric_even_after_the_head_moves(batch):
    x, _ = batch
    model = deep_mlp(FEATURES, 4, WIDTH, 10)
    ii.initialize(model, "he_normal", seed=0, rules={"4": "zeros", "6": "zeros", "@last": "zeros"})  # layers 3, 4, head
    verdicts = diagnose(model, x).verdicts
    assert verdicts[2] is Verdict.SYMMETRIC  # zero input from nothing and a zero layer after it: stuck for good
    assert verdicts[:2] == [Verdict.HEALTHY, Verdict.HEALTHY]


def test_duplicate_and_dead_fractions():
    from initopt.doctor.measures import dead_fraction, duplicate_fraction

    w = torch.randn(6, 4)
    w[3] = w[1]
    w[5] = w[1]
    assert duplicate_fraction(w) == pytest.approx(3 / 6)
    assert duplicate_fraction(w, torch.arange(6.0)) == 0.0  # different biases: different units
    assert duplicate_fraction(torch.zeros(5, 3)) == 1.0 and duplicate_fraction(torch.zeros(1, 3)) == 0.0
    assert duplicate_fraction(w * (1 + 1e-9)) == pytest.approx(3 / 6)  # float noise is not a difference
    out = torch.relu(torch.randn(32, 4, 5))
    out[:, 2] = 0
    assert dead_fraction(out, 1) == pytest.approx(1 / 4)
    assert dead_fraction(torch.zeros(8, 3), -1) == 1.0
