"""Drift between the reference (training features, and the model's predictions on them) and a
window of production traffic, computed by Evidently: per feature the KS test (numeric) or a
two-sample chi-squared test (categorical, registered in Evidently: see stats.py for why not its
`chisquare`), the same chi-squared test on the predicted class, and the verdict: the traffic
drifts when at least `drift_share` of the features drift (p-value below `p_value`).

Evidently takes seconds to import, so it is imported here, inside the functions that need it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from greenlight.monitor.stats import CHI2, KS, STATISTICS, TEST_NAMES, chi_squared

if TYPE_CHECKING:
    from evidently import Report, Run

ALL_MISSING = "all-missing"  # no value at all in the window (or reference): untestable, drifted


@dataclass(frozen=True)
class Comparison:
    """What to compare: two frames with the same columns, the features split by kind, and the
    predicted-class column (tested and reported, but not one of the features)."""

    reference: pd.DataFrame
    current: pd.DataFrame
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    prediction: str

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def method(self, column: str) -> str:
        return KS if column in self.numeric else CHI2


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    test: str  # KS, CHI2 or ALL_MISSING
    statistic: float | None
    p_value: float | None
    drifted: bool
    missing_share: tuple[float, float]  # reference, current

    @property
    def test_name(self) -> str:
        return TEST_NAMES.get(self.test, "none: every value is missing on one side")


@dataclass(frozen=True)
class DriftResult:
    features: tuple[ColumnDrift, ...]
    prediction: ColumnDrift
    p_value: float
    drift_share: float

    @property
    def drifted_features(self) -> list[str]:
        return [feature.column for feature in self.features if feature.drifted]

    @property
    def share(self) -> float:
        return len(self.drifted_features) / len(self.features)

    @property
    def drifted(self) -> bool:
        return self.share >= self.drift_share


def measure(comparison: Comparison, p_value: float, drift_share: float) -> tuple[DriftResult, Run]:
    """Run Evidently on the comparison; the result and Evidently's run (for the HTML report)."""
    testable = [column for column in comparison.features if _has_values(comparison, column)]
    run = evidently_report(comparison, testable, p_value, drift_share).run(
        *_datasets(comparison, testable)
    )
    p_values = evidently_p_values(run)
    features = tuple(
        _column_drift(comparison, column, p_values.get(column), p_value)
        for column in comparison.features
    )
    prediction = _column_drift(
        comparison, comparison.prediction, p_values[comparison.prediction], p_value
    )
    return DriftResult(features, prediction, p_value, drift_share), run


def evidently_report(
    comparison: Comparison, testable: list[str], p_value: float, drift_share: float
) -> Report:
    """Evidently's drift preset on the testable features, plus the predicted-class drift."""
    from evidently import Report  # noqa: PLC0415
    from evidently.metrics import ValueDrift  # noqa: PLC0415
    from evidently.presets import DataDriftPreset  # noqa: PLC0415

    register_chi_squared()
    preset = DataDriftPreset(
        columns=testable,
        num_method=KS,
        cat_method=CHI2,
        threshold=p_value,
        drift_share=drift_share,
    )
    prediction = ValueDrift(column=comparison.prediction, method=CHI2, threshold=p_value)
    return Report([preset, prediction])


def _datasets(comparison: Comparison, testable: list[str]) -> tuple[Any, Any]:
    """(current, reference) as Evidently datasets with the column kinds declared, not guessed."""
    from evidently import DataDefinition, Dataset  # noqa: PLC0415

    definition = DataDefinition(
        numerical_columns=[column for column in testable if column in comparison.numeric],
        categorical_columns=[
            *(column for column in testable if column in comparison.categorical),
            comparison.prediction,
        ],
    )
    columns = [*testable, comparison.prediction]
    return tuple(
        Dataset.from_pandas(frame[columns], data_definition=definition)
        for frame in (comparison.current, comparison.reference)
    )


def evidently_p_values(run: Run) -> dict[str, float]:
    """Column -> p-value of every ValueDrift metric in an Evidently run."""
    return {
        metric["config"]["column"]: float(metric["value"])
        for metric in run.dict()["metrics"]
        if metric["config"]["type"] == "evidently:metric_v2:ValueDrift"
    }


def _column_drift(
    comparison: Comparison, column: str, evidently_p: float | None, threshold: float
) -> ColumnDrift:
    reference, current = comparison.reference[column], comparison.current[column]
    missing = (float(reference.isna().mean()), float(current.isna().mean()))
    if evidently_p is None:  # nothing to test: every value is missing on one side
        return ColumnDrift(column, ALL_MISSING, None, None, True, missing)
    method = comparison.method(column)
    statistic = STATISTICS[method](reference, current).statistic
    return ColumnDrift(column, method, statistic, evidently_p, evidently_p < threshold, missing)


def _has_values(comparison: Comparison, column: str) -> bool:
    reference, current = comparison.reference[column], comparison.current[column]
    return bool(reference.notna().any() and current.notna().any())


def register_chi_squared() -> None:
    """Make the two-sample chi-squared test available to Evidently by name (idempotent)."""
    from evidently.legacy.calculations.stattests.registry import (  # noqa: PLC0415
        StatTest,
        register_stattest,
    )
    from evidently.legacy.core import ColumnType  # noqa: PLC0415

    test = StatTest(CHI2, "chi-squared (two-sample) p_value", [ColumnType.Categorical], 0.05)
    register_stattest(test, default_impl=_evidently_chi_squared)


def _evidently_chi_squared(
    reference: pd.Series, current: pd.Series, feature_type: object, threshold: float
) -> tuple[float, bool]:
    p_value = chi_squared(reference, current).p_value
    return p_value, p_value < threshold
