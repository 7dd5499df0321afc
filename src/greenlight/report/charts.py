"""The comment's figures as Mermaid `xychart-beta` blocks, which GitHub draws in the comment itself:
no image is uploaded anywhere. Each chart shows the base and this branch together, from the data
both commits committed (reports/plots/*.csv, fairness.json, importance.json, explanations.json).

xychart has no legend and draws a line's points evenly over the x range, so: colours are fixed
(base blue, branch orange, reference grey) and named in the title; curves are resampled on a
fixed grid; two bar series share a chart by alternating categories (each series is 0 where the
other one stands), since bars of two series at one category would hide each other."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

BASE_COLOUR, HEAD_COLOUR, REFERENCE_COLOUR = "#1f77b4", "#ff7f0e", "#9e9e9e"
LEGEND = "blue: base, orange: this branch"
SIZE = {"width": 640, "height": 360}  # pixels; a horizontal chart grows with its categories
GRID = np.round(np.linspace(0.0, 1.0, 21), 2)  # ROC and precision-recall
BIN_CENTRES = np.round(np.linspace(0.05, 0.95, 10), 2)  # calibration (10 bins)


@dataclass(frozen=True)
class Curve:
    name: str  # reports/plots/<name>.csv
    x: str
    y: str
    title: str
    grid: np.ndarray
    diagonal: bool  # draw y = x for reference


CURVES = (
    Curve("roc", "fpr", "tpr", "ROC", GRID, diagonal=True),
    Curve("precision_recall", "recall", "precision", "Precision-recall", GRID, diagonal=False),
    Curve("calibration", "mean_predicted", "fraction_positive", "Calibration", BIN_CENTRES, True),
)


def resample(table: pd.DataFrame, curve: Curve) -> list[float]:
    """The curve's y at each grid point (linear interpolation; where several points share an x,
    the highest y, the usual convention for ROC and interpolated precision)."""
    points = table.groupby(curve.x, sort=True)[curve.y].max()
    values = np.interp(curve.grid, points.index.to_numpy(float), points.to_numpy(float))
    return [round(float(value), 4) for value in values]


def curve_chart(curve: Curve, base: pd.DataFrame | None, head: pd.DataFrame) -> str:
    """One line each for the base (when it has the table) and this branch, plus the diagonal."""
    series = [] if base is None else [(BASE_COLOUR, resample(base, curve))]
    series.append((HEAD_COLOUR, resample(head, curve)))
    if curve.diagonal:
        series.append((REFERENCE_COLOUR, [float(value) for value in curve.grid]))
    low, high = float(curve.grid[0]), float(curve.grid[-1])
    axes = [f'x-axis "{curve.x}" {low} --> {high}', f'y-axis "{curve.y}" 0 --> 1']
    title = f"{curve.title} ({_legend(base is not None, curve.diagonal)})"
    return _chart(title, axes, [("line", colour, values) for colour, values in series])


def paired_bars(
    title: str,
    axis: str,
    base: Mapping[str, float] | None,
    head: Mapping[str, float],
    *,
    horizontal: bool = False,
    rates: bool = False,
) -> str:
    """Base and branch bars side by side for each name (this branch's order, then the base's);
    `horizontal` for long lists of names (features); `rates` puts the value axis at 0 to 1."""
    base = base or {}
    names = list(dict.fromkeys([*head, *base]))
    labels = [label for name in names for label in (f"{name} · base", f"{name} · branch")]
    base_values = [value for name in names for value in (base.get(name, 0.0), 0.0)]
    head_values = [value for name in names for value in (0.0, head.get(name, 0.0))]
    every = [*base_values, *head_values, 0.0]
    top = "1" if rates else _round_away(max(every))
    categories = ", ".join(_quoted(label) for label in labels)
    axes = [f"x-axis [{categories}]", f'y-axis "{axis}" {_round_away(min(every))} --> {top}']
    plots = [("bar", BASE_COLOUR, base_values), ("bar", HEAD_COLOUR, head_values)]
    if not horizontal:
        return _chart(f"{title} ({LEGEND})", axes, plots)
    size = {**SIZE, "height": max(SIZE["height"], 18 * len(labels))}
    return _chart(f"{title} ({LEGEND})", axes, plots, "xychart-beta horizontal", size)


def _chart(
    title: str,
    axes: Sequence[str],
    plots: Sequence[tuple[str, str, Sequence]],
    kind: str = "xychart-beta",
    size: Mapping[str, int] = SIZE,
) -> str:
    palette = ", ".join(colour for _, colour, _ in plots)
    theme = {"xyChart": {"plotColorPalette": palette}}
    config = json.dumps({"xyChart": dict(size), "themeVariables": theme})
    header = ["```mermaid", f"%%{{init: {config}}}%%", kind, f"    title {_quoted(title)}"]
    body = [f"    {axis}" for axis in axes]
    body += [f"    {mark} [{', '.join(_number(v) for v in values)}]" for mark, _, values in plots]
    return "\n".join([*header, *body, "```"])


def _legend(has_base: bool, diagonal: bool) -> str:
    legend = LEGEND if has_base else "orange: this branch; the base has no such table"
    return f"{legend}, grey: diagonal" if diagonal else legend


def _quoted(text: str) -> str:
    """Mermaid strings cannot hold a double quote or a line break."""
    return '"' + " ".join(str(text).replace('"', "'").split()) + '"'


def _number(value: float) -> str:
    return f"{float(value):.4f}".rstrip("0").rstrip(".") or "0"


def _round_away(value: float) -> str:
    """A round axis end at or beyond `value` (away from 0): 0.0806 -> 0.09, -0.0023 -> -0.003."""
    if value == 0:
        return "0"
    magnitude = 10 ** np.floor(np.log10(abs(value) * 1.1))
    rounded = np.ceil(abs(value) * 1.1 / magnitude) * magnitude
    return _number(float(np.copysign(rounded, value)))
