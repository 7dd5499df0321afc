"""PNG renderings of the evaluation tables, for the model card and the PR comment. `dvc plots`
renders the same tables interactively from reports/plots/*.csv."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # no display: render to files only
import matplotlib.pyplot as plt
import pandas as pd

# name -> (x column, y column, title, diagonal reference line)
CURVES = {
    "roc": ("fpr", "tpr", "ROC curve", True),
    "precision_recall": ("recall", "precision", "Precision-recall curve", False),
    "calibration": ("mean_predicted", "fraction_positive", "Calibration", True),
}


def curve(name: str, table: pd.DataFrame, path: Path) -> None:
    if name == "confusion":
        confusion(table, path)
        return
    x, y, title, diagonal = CURVES[name]
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.plot(table[x], table[y], marker="o" if name == "calibration" else None, markersize=3)
    if diagonal:
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    axes.set(xlabel=x, ylabel=y, title=title, xlim=(0, 1), ylim=(0, 1.02))
    _save(figure, path)


def confusion(table: pd.DataFrame, path: Path) -> None:
    """`table`: one row per (actual, predicted) cell with its count."""
    counts = table.pivot_table(index="actual", columns="predicted", values="count", aggfunc="sum")
    counts = counts.reindex(index=[0, 1], columns=[0, 1], fill_value=0)
    figure, axes = plt.subplots(figsize=(4, 3.6))
    axes.imshow(counts.to_numpy(), cmap="Blues")
    for (row, column), value in pd.DataFrame(counts.to_numpy()).stack().items():
        axes.text(column, row, f"{value:,}", ha="center", va="center")
    axes.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual", title="Confusion")
    _save(figure, path)


def importance(values: dict[str, dict[str, float]], path: Path) -> None:
    names = list(values)[::-1]
    figure, axes = plt.subplots(figsize=(5, 0.3 * len(names) + 1))
    axes.barh(names, [values[n]["mean"] for n in names], xerr=[values[n]["std"] for n in names])
    axes.set(xlabel="score drop when shuffled", title="Permutation importance")
    _save(figure, path)


def group_rates(attribute: str, groups: dict[str, dict[str, float]], path: Path) -> None:
    """Groups too small to judge have no rate to draw: they are counted in the title instead."""
    names = [name for name, values in groups.items() if not values.get("too_small")]
    left_out = len(groups) - len(names)
    note = f"\n({left_out} group(s) too small to judge, not shown)" if left_out else ""
    figure, axes = plt.subplots(figsize=(5, 0.35 * len(names) + 1.4))
    axes.barh(names, [groups[n]["selection_rate"] or 0.0 for n in names])
    axes.set(xlabel="selection rate", title=f"Selection rate by {attribute}{note}", xlim=(0, 1))
    _save(figure, path)


def bars(values: dict[str, float], xlabel: str, title: str, path: Path) -> None:
    """One horizontal bar per name, the largest on top."""
    names = list(values)[::-1]
    figure, axes = plt.subplots(figsize=(5, 0.3 * len(names) + 1))
    axes.barh(names, [values[n] for n in names])
    axes.set(xlabel=xlabel, title=title)
    _save(figure, path)


def _save(figure: plt.Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
