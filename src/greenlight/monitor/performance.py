"""Live performance from delayed labels, pure: the logged predictions of a window joined with their
outcomes, the figures (accuracy, ROC AUC, Brier score), each compared with the model's own test
figure, a verdict, and the fairness differences per sensitive attribute when a separate
sensitive-attribute file is given. No I/O here; `performance_job` reads and writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from greenlight.monitor.log_reader import LABEL, PROBABILITY, RECORD, REQUEST_ID
from greenlight.monitor.settings import PerformanceParams
from greenlight.outcomes import Outcome

TRUTH = "__truth__"
FINE, DEGRADED, NOT_ENOUGH = "fine", "degraded", "not enough outcomes"


@dataclass(frozen=True)
class Figures:
    count: int
    accuracy: float | None
    roc_auc: float | None  # None when the outcomes hold one class only
    brier: float | None


@dataclass(frozen=True)
class Check:
    figure: str
    live: float | None
    test: float
    limit: float
    direction: str  # "drop": live may be at most `limit` below test; "rise": above

    @property
    def change(self) -> float | None:
        return None if self.live is None else self.live - self.test

    @property
    def degraded(self) -> bool:
        if self.change is None:
            return False
        return -self.change > self.limit if self.direction == "drop" else self.change > self.limit


def outcome_frame(outcomes: Sequence[Outcome]) -> pd.DataFrame:
    return pd.DataFrame(
        [(outcome.request_id, outcome.record, outcome.label) for outcome in outcomes],
        columns=[REQUEST_ID, RECORD, TRUTH],
    ).astype({REQUEST_ID: object, RECORD: int, TRUTH: object})


def join(predictions: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """The predictions that have an outcome: request id, record, label, probability, truth."""
    keyed = predictions[[REQUEST_ID, RECORD, LABEL, PROBABILITY]]
    return keyed.merge(outcomes, on=[REQUEST_ID, RECORD], how="inner", validate="one_to_one")


def figures(joined: pd.DataFrame, positive: str) -> Figures:
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    if joined.empty:
        return Figures(0, None, None, None)
    truth = (joined[TRUTH] == positive).to_numpy()
    probability = joined[PROBABILITY].to_numpy(dtype=float)
    both = 0 < truth.sum() < len(truth)
    return Figures(
        count=len(joined),
        accuracy=float((joined[LABEL] == joined[TRUTH]).mean()),
        roc_auc=float(roc_auc_score(truth, probability)) if both else None,
        brier=float(np.mean((probability - truth) ** 2)),
    )


def checks(live: Figures, test: Mapping[str, float], settings: PerformanceParams) -> list[Check]:
    drop, rise = settings.max_drop, settings.max_rise
    return [
        Check("accuracy", live.accuracy, test["accuracy"], drop.accuracy, "drop"),
        Check("roc_auc", live.roc_auc, test["roc_auc"], drop.roc_auc, "drop"),
        Check("brier", live.brier, test["brier"], rise.brier, "rise"),
    ]


def verdict(live: Figures, done: Sequence[Check], min_outcomes: int) -> str:
    """Too few outcomes is its own verdict, neither fine nor degraded."""
    if live.count < min_outcomes:
        return NOT_ENOUGH
    return DEGRADED if any(check.degraded for check in done) else FINE


def fairness(
    joined: pd.DataFrame, groups: pd.DataFrame, positive: str, min_group_count: int
) -> dict[str, dict[str, Any]]:
    """Per sensitive attribute (the columns of `groups`, keyed by request id and record): the
    differences over the groups with at least `min_group_count` outcomes. Group values stay
    here: the result names attributes, counts and differences only."""
    with_groups = joined.merge(groups, on=[REQUEST_ID, RECORD], how="inner", validate="one_to_one")
    truth = (with_groups[TRUTH] == positive).to_numpy(dtype=int)
    predicted = (with_groups[LABEL] == positive).to_numpy(dtype=int)
    attributes = [name for name in groups.columns if name not in (REQUEST_ID, RECORD)]
    return {
        name: attribute_differences(truth, predicted, with_groups[name], min_group_count)
        for name in attributes
    }


def attribute_differences(
    truth: np.ndarray, predicted: np.ndarray, values: pd.Series, min_group_count: int
) -> dict[str, Any]:
    from greenlight.stages.fairness import differences  # noqa: PLC0415

    groups = values.astype(object).where(values.notna(), "(missing)").astype(str)
    groups = groups.reset_index(drop=True)
    sizes = groups.value_counts()
    judged = groups.isin(sizes.index[sizes >= min_group_count]).to_numpy()
    return {
        "records": len(groups),
        "groups_compared": int((sizes >= min_group_count).sum()),
        "groups_too_small": int((sizes < min_group_count).sum()),
        **differences(truth[judged], predicted[judged], groups[judged]),
    }
