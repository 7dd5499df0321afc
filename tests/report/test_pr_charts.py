"""The Mermaid charts: curves resampled from the committed tables, base and branch bars side by
side, and a syntax the Mermaid grammar accepts (checked once with mermaid 11.17; see README)."""

from __future__ import annotations

import json
import re

import pandas as pd

from greenlight.report import charts

ROC = charts.CURVES[0]


def test_a_curve_is_resampled_on_the_grid_taking_the_top_of_vertical_steps() -> None:
    table = pd.DataFrame({"fpr": [0.0, 0.0, 0.5, 0.5, 1.0], "tpr": [0.0, 0.4, 0.6, 0.8, 1.0]})
    values = charts.resample(table, ROC)
    assert len(values) == len(charts.GRID) == 21
    assert values[0] == 0.4  # at fpr 0 the step reaches 0.4
    assert values[10] == 0.8  # at fpr 0.5, the higher of 0.6 and 0.8
    assert values[-1] == 1.0


def test_a_curve_chart_has_base_branch_and_diagonal_in_that_palette_order() -> None:
    table = pd.DataFrame({"fpr": [0.0, 1.0], "tpr": [0.0, 1.0]})
    chart = charts.curve_chart(ROC, table, table)
    config = json.loads(re.search(r"%%\{init: (.*)\}%%", chart).group(1))
    palette = config["themeVariables"]["xyChart"]["plotColorPalette"]
    assert palette == f"{charts.BASE_COLOUR}, {charts.HEAD_COLOUR}, {charts.REFERENCE_COLOUR}"
    assert chart.count("\n    line [") == 3
    assert 'x-axis "fpr" 0.0 --> 1.0' in chart
    only_branch = charts.curve_chart(ROC, None, table)
    assert only_branch.count("\n    line [") == 2
    assert "the base has no such table" in only_branch


def test_paired_bars_alternate_so_neither_series_hides_the_other() -> None:
    chart = charts.paired_bars(
        "Selection rate", "rate", {"F": 0.1, "M": 0.3}, {"F": 0.2, "M": 0.25}, rates=True
    )
    assert 'x-axis ["F · base", "F · branch", "M · base", "M · branch"]' in chart
    assert "    bar [0.1, 0, 0.3, 0]" in chart
    assert "    bar [0, 0.2, 0, 0.25]" in chart
    assert 'y-axis "rate" 0 --> 1' in chart


def test_value_axes_are_rounded_outwards_and_long_lists_go_horizontal() -> None:
    head = {f"feature{i}": 0.01 * i for i in range(12)} | {"negative": -0.0023}
    chart = charts.paired_bars("Importance", "drop", None, head, horizontal=True)
    assert "xychart-beta horizontal" in chart
    assert 'y-axis "drop" -0.003 --> 0.2' in chart
    config = json.loads(re.search(r"%%\{init: (.*)\}%%", chart).group(1))
    assert config["xyChart"]["height"] >= 18 * 26


def test_names_with_quotes_cannot_break_the_chart() -> None:
    chart = charts.paired_bars('say "hi"', "x", None, {'a "b"\nc': 1.0})
    assert "title \"say 'hi' (blue: base, orange: this branch)\"" in chart
    assert "\"a 'b' c · base\"" in chart
