"""The release gate: every metric at or above its `gate.min`, at or below its `gate.max`, and every
fairness difference within `fairness.max_difference`. Pure logic; the CLI reads the files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenlight.config import Params
from greenlight.files import read_json
from greenlight.paths import REPORTS

BOUND_INDEX = {"lower": 0, "upper": 1}  # fairness.gate_on -> position in the interval
BASIS = {
    "estimate": "",
    "upper": "upper end of its {level} interval",
    "lower": "lower end of its {level} interval",
}


@dataclass(frozen=True)
class Check:
    name: str  # e.g. "accuracy" or "sex.demographic_parity_difference"
    value: float | None
    bound: float
    kind: str  # "min" or "max"
    basis: str = ""  # what the value is when not the estimate, e.g. "upper end of its 95% interval"

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.bound if self.kind == "min" else self.value <= self.bound

    def describe(self) -> str:
        if self.value is None:
            return f"{self.name}: missing from the reports, so the gate cannot pass"
        relation = "at least" if self.kind == "min" else "at most"
        verdict = "ok" if self.passed else "FAILED"
        basis = f" ({self.basis})" if self.basis else ""
        return f"{self.name} = {self.value:.4f}{basis}, must be {relation} {self.bound} ({verdict})"


def gate_checks(metrics: dict[str, Any], fairness: dict[str, Any], params: Params) -> list[Check]:
    checks = [
        Check(name, metrics.get(name), bound, "min") for name, bound in params.gate.min.items()
    ]
    checks += [
        Check(name, metrics.get(name), bound, "max") for name, bound in params.gate.max.items()
    ]
    gate_on = params.fairness.gate_on
    for attribute, report in fairness.items():
        basis = BASIS[gate_on].format(level=_level(report))
        for name, bound in params.fairness.max_difference.items():
            value = judged_value(report, name, gate_on)
            checks.append(Check(f"{attribute}.{name}", value, bound, "max", basis))
    return checks


def judged_value(report: dict[str, Any], name: str, gate_on: str) -> float | None:
    """What the gate compares with a fairness threshold (`fairness.gate_on`): the estimate, or the
    upper end of its interval (pass only when confidently within) or the lower end (fail only
    when confidently over). None, so the check fails, where the report has no such value."""
    if gate_on == "estimate":
        return report.get(name)
    interval = report.get("interval", {}).get(name)
    return None if interval is None else interval[BOUND_INDEX[gate_on]]


def passes(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def _level(report: dict[str, Any]) -> str:
    level = report.get("confidence_level")
    return f"{level:.0%}" if isinstance(level, int | float) else "confidence"


def failures(checks: list[Check]) -> list[Check]:
    return [check for check in checks if not check.passed]


def run(params: Params, reports: Path = REPORTS) -> list[Check]:
    metrics = read_json(reports / "metrics.json")
    fairness = read_json(reports / "fairness.json")
    return gate_checks(metrics, fairness, params)
