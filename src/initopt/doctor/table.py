"""The rich table of a :class:`~initopt.doctor.diagnosis.Diagnosis`: one row per layer, the verdict coloured."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from initopt._terminal import Fit
from initopt.doctor.verdict import Verdict

if TYPE_CHECKING:
    from initopt.doctor.diagnosis import Diagnosis
    from initopt.doctor.probes import WeightProbe

__all__ = ["diagnosis_table", "verdict_text"]

_STYLES = {
    Verdict.HEALTHY: "green",
    Verdict.VANISHING: "bold yellow",
    Verdict.EXPLODING: "bold red",
    Verdict.DEAD: "bold magenta",
    Verdict.SYMMETRIC: "bold cyan",
}
_COLUMNS = (
    ("#", "right"), ("layer", "left"), ("shape", "right"), ("act mean", "right"), ("act std", "right"),
    ("max |a|", "right"), ("dead", "right"), ("w std", "right"), ("He", "right"), ("Xavier", "right"),
    ("grad w", "right"), ("grad out", "right"), ("sym", "right"), ("verdict", "left"),
)  # fmt: skip


def _g(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.{digits}g}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _spread(weight: WeightProbe | None) -> bool:
    """A weight whose std says something: a matrix (Linear, Conv, an Embedding table), not a norm's
    scale vector (all ones) or a single number (the global bias of matrix factorization)."""
    return weight is not None and len(weight.shape) >= 2 and math.prod(weight.shape) >= 2


def verdict_text(verdict: Verdict) -> Text:
    return Text(verdict.value, style=_STYLES[verdict])


#: Dropped in this order when the terminal is too narrow: the verdict's evidence stays (act std, w std
#: against He, the output gradient), the context goes (index, shape, the other references).
LOW_VALUE_COLUMNS = ("#", "shape", "max |a|", "act mean", "Xavier", "grad w", "sym", "dead")


def diagnosis_table(diagnosis: Diagnosis) -> Fit:
    """Columns: index, layer (name and module), output shape, activation mean/std/max |a|, dead units,
    weight std with the He and Xavier stds for its fans, weight and output gradient std, symmetry, verdict.

    The title carries the overall verdict and how the backward pass was seeded."""
    input_std = "integer inputs" if diagnosis.input_std is None else f"input std {diagnosis.input_std:.3g}"
    title = (f"init doctor: {diagnosis.verdict} ({len(diagnosis.layers)} layers, batch {diagnosis.batch_size},"
             f" {input_std}, backward: {diagnosis.backward})")
    # padding 0: the box itself draws one space between columns, so the 14 columns of a 50-layer,
    # 256-wide MLP fit 120 characters; at 80 the low-value columns go. No column wraps: a layer's
    # name stays on its line, and a terminal too narrow for the rest folds it (Fit), never cuts it.
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=0)
    for name, justify in _COLUMNS:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for item in diagnosis.layers:
        layer, weight = item.layer, item.layer.weight
        verdict = verdict_text(item.verdict)  # the reason is in Diagnosis.to_dict() and str(); the table stays narrow
        table.add_row(
            str(layer.index),
            f"{layer.name or '(root)'} {layer.label}",
            "x".join(map(str, layer.output_shape)),
            _g(layer.act.mean),
            _g(layer.act.std),
            _g(layer.act.max_abs),
            _share(layer.dead_fraction),
            "-" if not _spread(weight) else _g(weight.std, 3),  # type: ignore[union-attr]
            "-" if weight is None else _g(weight.he_std, 3),
            "-" if weight is None else _g(weight.xavier_std, 3),
            "-" if weight is None or math.prod(weight.shape) < 2 else _g(weight.grad_std),
            _g(layer.output_grad_std),
            "-" if weight is None or weight.symmetry is None else f"{weight.symmetry:.2f}",
            verdict,
        )
    return Fit(table, drop=LOW_VALUE_COLUMNS)
