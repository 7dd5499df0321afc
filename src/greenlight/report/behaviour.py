"""What changed in the model's behaviour, as plain data: how many test predictions flip between the
base model and this branch's, overall and per group of each sensitive attribute, and the largest
changes in feature importance. Pure functions: counts and means only, never a record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FlipRow:
    group: str
    records: int
    to_positive: int | None = None  # None: too small to judge, counts withheld
    to_negative: int | None = None

    @property
    def flips(self) -> int | None:
        if self.to_positive is None or self.to_negative is None:
            return None
        return self.to_positive + self.to_negative


@dataclass(frozen=True)
class Flips:
    overall: FlipRow
    by_attribute: Mapping[str, list[FlipRow]] = field(default_factory=dict)
    minimum: int = 1  # groups with fewer records are too small to judge


@dataclass(frozen=True)
class Change:
    feature: str
    base: float | None
    head: float | None

    @property
    def delta(self) -> float:
        return (self.head or 0.0) - (self.base or 0.0)


def flip_counts(
    base: np.ndarray, head: np.ndarray, groups: Mapping[str, pd.Series], minimum: int
) -> Flips:
    """`base`, `head`: predicted labels (0/1) for the same records, in the same order."""
    base, head = np.asarray(base, dtype=bool), np.asarray(head, dtype=bool)
    if base.shape != head.shape:
        raise ValueError(f"base has {base.size} predictions, this branch {head.size}")
    overall = _row("all records", base, head, minimum=1)
    by_attribute = {
        name: [_row(str(group), base[mask], head[mask], minimum) for group, mask in _masks(values)]
        for name, values in groups.items()
    }
    return Flips(overall, by_attribute, minimum)


def importance_changes(
    base: Mapping[str, Any] | None, head: Mapping[str, Any] | None, top: int
) -> list[Change]:
    """The `top` features whose value moved most (either side may lack a feature); values are
    numbers or {"mean": ...} entries as importance.json writes them."""
    old, new = _values(base), _values(head)
    changes = [Change(name, old.get(name), new.get(name)) for name in dict.fromkeys([*new, *old])]
    changes.sort(key=lambda change: -abs(change.delta))
    return changes[:top]


def _row(group: str, base: np.ndarray, head: np.ndarray, minimum: int) -> FlipRow:
    if base.size < minimum:
        return FlipRow(group, int(base.size))
    return FlipRow(group, int(base.size), int(np.sum(~base & head)), int(np.sum(base & ~head)))


def _masks(values: pd.Series) -> list[tuple[Any, np.ndarray]]:
    array = values.astype(str).to_numpy()
    return [(group, array == group) for group in sorted(set(array))]


def _values(report: Mapping[str, Any] | None) -> dict[str, float]:
    values = {}
    for name, value in (report or {}).items():
        number = value.get("mean") if isinstance(value, Mapping) else value
        if isinstance(number, int | float):
            values[name] = float(number)
    return values
