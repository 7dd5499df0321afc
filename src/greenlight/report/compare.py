"""Base versus branch, as plain data: one row per metric with its delta and direction, and the
params that changed. Pure functions over the dicts read from reports/ and params.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# Direction of improvement for the metrics the evaluate stage writes. A metric not listed here
# takes its direction from the gate (gate.min: higher is better, gate.max: lower is better).
HIGHER_IS_BETTER = frozenset({"accuracy", "roc_auc", "f1", "precision", "recall"})
LOWER_IS_BETTER = frozenset({"log_loss", "brier"})
UNCHANGED_BELOW = 5e-7  # metrics are written rounded to 6 decimals

Direction = Literal["higher", "lower", "none"]
Trend = Literal["better", "worse", "unchanged", "changed", "new", "removed"]


@dataclass(frozen=True)
class MetricRow:
    name: str
    base: float | None
    head: float | None
    direction: Direction

    @property
    def delta(self) -> float | None:
        if self.base is None or self.head is None:
            return None
        return self.head - self.base

    @property
    def trend(self) -> Trend:
        if self.base is None:
            return "new"
        if self.head is None:
            return "removed"
        delta = self.delta or 0.0
        if abs(delta) < UNCHANGED_BELOW:
            return "unchanged"
        if self.direction == "none":
            return "changed"
        improved = delta > 0 if self.direction == "higher" else delta < 0
        return "better" if improved else "worse"


@dataclass(frozen=True)
class ParamChange:
    key: str  # dotted, e.g. "train.hgb.learning_rate"
    base: Any
    head: Any
    missing: Literal["", "base", "head"] = ""  # which side lacks the key, if one does


def direction(name: str, gate_min: Mapping[str, float], gate_max: Mapping[str, float]) -> Direction:
    if name in HIGHER_IS_BETTER or name in gate_min:
        return "higher"
    if name in LOWER_IS_BETTER or name in gate_max:
        return "lower"
    return "none"


def metric_rows(
    base: Mapping[str, Any] | None,
    head: Mapping[str, Any],
    gate_min: Mapping[str, float],
    gate_max: Mapping[str, float],
) -> list[MetricRow]:
    """Every metric of either side: the branch's order first, then the ones the branch dropped."""
    base = base or {}
    names = [*head, *(name for name in base if name not in head)]
    return [
        MetricRow(
            name,
            _number(base.get(name)),
            _number(head.get(name)),
            direction(name, gate_min, gate_max),
        )
        for name in names
    ]


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay whole values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def changed_params(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[ParamChange]:
    """Keys whose value differs, plus keys only one side has, in the branch's order."""
    old, new = flatten(base), flatten(head)
    changes = []
    for key in [*new, *(key for key in old if key not in new)]:
        if key not in old:
            changes.append(ParamChange(key, None, new[key], missing="base"))
        elif key not in new:
            changes.append(ParamChange(key, old[key], None, missing="head"))
        elif old[key] != new[key]:
            changes.append(ParamChange(key, old[key], new[key]))
    return changes


def _number(value: Any) -> float | None:
    """Metrics are numbers; anything else (a nested block a newer stage added) is not compared."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value
