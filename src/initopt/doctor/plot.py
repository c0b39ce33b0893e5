"""Activation std and gradient std against depth for several schemes: why He initialization exists.

Compute, then render: :func:`depth_profiles` diagnoses one model under each scheme and returns
plain :class:`DepthProfile` records; :func:`render_depth_plot` draws them with matplotlib's Agg
canvas (no pyplot, so no global backend is switched).

The profiles are measured in float64 by default. In float32 a 50-layer, 256-wide ReLU MLP with
N(0, 1) weights overflows to inf at about layer 37 and one with N(0, 0.01^2) weights underflows to
exactly 0 at layer 48 (the doctor's table shows that, as training would see it); float64
keeps both curves finite, so the picture shows the whole geometric growth and decay (x11 and
x0.11 per layer). The weights are drawn in float32, as for training, then converted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from initopt.doctor.diagnosis import diagnose
from initopt.doctor.verdict import Verdict

__all__ = ["DEFAULT_SCHEMES", "DepthProfile", "depth_figure", "depth_profiles", "render_depth_plot", "scheme_label"]

#: The classic comparison: symmetric, exploding, vanishing, slowly vanishing (Xavier on ReLU), healthy.
DEFAULT_SCHEMES: tuple[str | dict[str, Any], ...] = (
    "zeros",
    {"name": "normal", "std": 1.0},
    {"name": "normal", "std": 0.01},
    "xavier_normal",
    "he_normal",
)
#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
#: deficiency (yellow left out: it vanishes on white). Markers and dashes repeat the distinction.
PALETTE = ("#000000", "#D55E00", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9")
MARKERS = ("o", "s", "v", "D", "^", "P", "X")
LINESTYLES = ("-", "--", "-.", ":", "-", "--", "-.")
_MARKS_PER_CURVE = 10


@dataclass(frozen=True)
class DepthProfile:
    """One scheme's signal through the model: per layer (forward order) the std of the output and of
    its gradient; the overall verdict and the first suggestion, if any."""

    scheme: str
    spec: dict[str, Any]
    verdict: Verdict
    activation_std: list[float]
    gradient_std: list[float]
    layers: list[str] = field(default_factory=list)
    suggestion: str | None = None

    @property
    def depth(self) -> int:
        return len(self.activation_std)


def scheme_label(spec: Mapping[str, Any]) -> str:
    """``{"name": "normal", "mean": 0.0, "std": 0.01}`` -> ``"gaussian std 0.01"``; defaults are left out."""
    from initopt import init

    name = spec["name"]
    defaults = init.get(name).spec() if name != "constant" else {}
    changed = {k: v for k, v in spec.items() if k != "name" and defaults.get(k) != v}
    if name == "normal":
        std = spec.get("std", 1.0)
        mean = spec.get("mean", 0.0)
        return f"gaussian std {std:g}" + ("" if mean == 0 else f" mean {mean:g}")
    return name + "".join(f" {k}={v:g}" if isinstance(v, float) else f" {k}={v}" for k, v in changed.items())


def depth_profiles(
    build: Callable[[], nn.Module],
    inputs: torch.Tensor,
    targets: torch.Tensor | None = None,
    loss: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    *,
    schemes: Sequence[str | Mapping[str, Any]] = DEFAULT_SCHEMES,
    data: torch.Tensor | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    progress: Callable[[int, str], None] | None = None,
) -> list[DepthProfile]:
    """Build a fresh model per scheme, initialize it (weights ``scheme``, zero biases, ``seed``) and diagnose it.

    ``data`` feeds data-dependent schemes (``lsuv``; default: ``inputs``). ``dtype`` is what the
    probe runs in (see the module docstring); integer inputs are left as they are. ``progress(done,
    scheme)`` is called before each scheme.
    """
    from initopt import init

    profiles = []
    for done, entry in enumerate(schemes):
        scheme = init.get(dict(entry) if isinstance(entry, Mapping) else entry)
        if progress is not None:
            progress(done, scheme_label(scheme.spec()))
        model = build()
        init.initialize(model, scheme, "zeros", data=inputs if data is None else data, seed=seed)
        model.to(dtype)
        x = inputs.to(dtype) if inputs.is_floating_point() else inputs
        diagnosis = diagnose(model, x, targets, loss, seed=seed)
        profiles.append(
            DepthProfile(
                scheme=scheme_label(scheme.spec()),
                spec=scheme.spec(),
                verdict=diagnosis.verdict,
                activation_std=[item.layer.act.std for item in diagnosis.layers],
                gradient_std=[math.nan if item.layer.output_grad_std is None else item.layer.output_grad_std
                              for item in diagnosis.layers],
                layers=[item.layer.label for item in diagnosis.layers],
                suggestion=diagnosis.suggestions[0] if diagnosis.suggestions else None,
            )
        )
    return profiles


# -- rendering -----------------------------------------------------------------------------------
def _floor(curves: list[list[float]]) -> float:
    """A decade below the smallest positive finite value: where exact zeros are drawn on a log axis."""
    positive = [v for curve in curves for v in curve if math.isfinite(v) and v > 0]
    smallest = min(positive) if positive else 1.0
    return 10.0 ** (math.floor(math.log10(smallest)) - 1)


def _panel(
    ax: Any, profiles: list[DepthProfile], values: Callable[[DepthProfile], list[float]], title: str, ylabel: str
) -> None:
    curves = [values(p) for p in profiles]
    floor = _floor(curves)
    zeros_drawn = False
    for i, (profile, curve) in enumerate(zip(profiles, curves, strict=True)):
        x = list(range(1, len(curve) + 1))
        finite = [v if math.isfinite(v) and v > 0 else math.nan for v in curve]
        zeros = [floor if v == 0 else math.nan for v in curve]
        step = max(1, len(curve) // _MARKS_PER_CURVE)
        marks = sorted({*range(0, len(curve), step), len(curve) - 1})  # always mark the output layer
        style = {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)], "markevery": marks,
                 "markersize": 5}
        ax.plot(x, finite, linestyle=LINESTYLES[i % len(LINESTYLES)], linewidth=1.8,
                label=f"{profile.scheme}: {profile.verdict}", **style)
        if any(not math.isnan(v) for v in zeros):
            zeros_drawn = True
            ax.plot(x, zeros, linestyle=(0, (1, 2)), linewidth=1.8, fillstyle="none", **style)
    if zeros_drawn:
        ax.axhline(floor, color="#999999", linewidth=0.6)
        ax.annotate("exactly 0 (drawn here)", xy=(0.5, floor), xycoords=("axes fraction", "data"), xytext=(0, 6),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8, color="#555555")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("layer (forward order; the last is the output layer)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", linewidth=0.4, alpha=0.6)


def depth_figure(profiles: list[DepthProfile], *, title: str) -> Any:
    """A matplotlib ``Figure`` (Agg canvas) with two log-scale panels, activation std and gradient std
    against depth, one curve per scheme, and a shared legend "scheme: verdict"."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 5.6), layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    _panel(left, profiles, lambda p: p.activation_std, "Activations: std of each layer's output",
           "std of layer output (log scale)")
    _panel(right, profiles, lambda p: p.gradient_std, "Gradients: std of d loss / d layer output",
           "std of gradient (log scale)")
    handles, labels = left.get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 5), frameon=False,
                  title="scheme: verdict")
    figure.suptitle(title)
    return figure


def render_depth_plot(profiles: list[DepthProfile], path: str | Path, *, title: str) -> Path:
    """Draw :func:`depth_figure` and save it to ``path``; the format follows the suffix (.png, .svg, .pdf)."""
    path = Path(path)
    depth_figure(profiles, title=title).savefig(path, dpi=120)
    return path
