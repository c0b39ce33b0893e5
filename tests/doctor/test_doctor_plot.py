"""Signal std against depth for several schemes: the records first, then the figure."""

from __future__ import annotations

import math

import pytest
import torch

from initopt.doctor import Verdict
from initopt.doctor.plot import DEFAULT_SCHEMES, PALETTE, depth_figure, depth_profiles, render_depth_plot, scheme_label
from initopt.models import deep_mlp

DEPTH, WIDTH = 30, 64


@pytest.fixture(scope="module")
def profiles():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 10, generator=g)
    y = (x[:, 0] > 0).float()
    return depth_profiles(lambda: deep_mlp(10, DEPTH, WIDTH, 1), x, y, "bce")


def test_the_classic_verdicts(profiles):
    assert [p.scheme for p in profiles] == ["zeros", "gaussian std 1", "gaussian std 0.01", "xavier_normal", "he_normal"]
    assert [p.verdict for p in profiles] == [Verdict.SYMMETRIC, Verdict.EXPLODING, Verdict.VANISHING, Verdict.VANISHING,
                                             Verdict.HEALTHY]
    assert all(p.depth == DEPTH + 1 for p in profiles)


def test_float64_keeps_the_extremes_finite_and_geometric(profiles):
    zeros, big, small, xavier, he = profiles
    assert all(v == 0 for v in zeros.activation_std)
    hidden = slice(0, DEPTH)
    for profile, per_layer in ((big, math.sqrt(WIDTH / 2)), (small, 0.01 * math.sqrt(WIDTH / 2)), (xavier, math.sqrt(0.5))):
        stds = profile.activation_std[hidden]
        assert all(math.isfinite(v) and v > 0 for v in stds)
        growth = (stds[-1] / stds[0]) ** (1 / (DEPTH - 1))  # the theory's gain per ReLU layer
        assert growth == pytest.approx(per_layer, rel=0.25), profile.scheme
    assert max(he.activation_std[hidden]) / min(he.activation_std[hidden]) < 20  # finite-width drift only
    assert all(math.isfinite(v) and v > 0 for v in big.gradient_std)


def test_figure_has_titles_labels_legend_log_axes_and_safe_colours(profiles):
    figure = depth_figure(profiles, title="depth test")
    left, right = figure.axes
    assert figure._suptitle.get_text() == "depth test"
    for ax in (left, right):
        assert ax.get_yscale() == "log" and ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        colours = {line.get_color() for line in ax.get_lines() if line.get_label() and not line.get_label().startswith("_")}
        assert colours <= set(PALETTE)
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels == [f"{p.scheme}: {p.verdict}" for p in profiles]
    assert any("exactly 0" in text.get_text() for text in left.texts)  # zeros drawn at the floor, and said so


def test_render_writes_a_png(profiles, tmp_path):
    path = render_depth_plot(profiles, tmp_path / "depth.png", title="t")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


@pytest.mark.parametrize(
    ("spec", "label"),
    [({"name": "normal", "mean": 0.0, "std": 1.0}, "gaussian std 1"), ({"name": "normal", "mean": 0.0, "std": 0.01}, "gaussian std 0.01"),
     ({"name": "he_normal", "mode": "fan_in", "nonlinearity": "relu"}, "he_normal"),
     ({"name": "he_normal", "mode": "fan_out", "nonlinearity": "relu"}, "he_normal mode=fan_out"),
     ({"name": "lsuv", "tol": 0.1, "max_iter": 10}, "lsuv"), ({"name": "constant", "value": 0.5}, "constant value=0.5")],
)
def test_scheme_labels(spec, label):
    assert scheme_label(spec) == label


def test_default_schemes_are_the_classic_five():
    assert len(DEFAULT_SCHEMES) == 5 and DEFAULT_SCHEMES[-1] == "he_normal"
