"""The release gate: every metric at or above its `gate.min`, at or below its `gate.max`, and every
fairness difference within `fairness.max_difference`. Pure logic; the CLI reads the files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenlight.config import Params
from greenlight.files import read_json
from greenlight.paths import REPORTS


@dataclass(frozen=True)
class Check:
    name: str  # e.g. "accuracy" or "sex.demographic_parity_difference"
    value: float | None
    bound: float
    kind: str  # "min" or "max"

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
        return f"{self.name} = {self.value:.4f}, must be {relation} {self.bound} ({verdict})"


def gate_checks(metrics: dict[str, Any], fairness: dict[str, Any], params: Params) -> list[Check]:
    checks = [
        Check(name, metrics.get(name), bound, "min") for name, bound in params.gate.min.items()
    ]
    checks += [
        Check(name, metrics.get(name), bound, "max") for name, bound in params.gate.max.items()
    ]
    for attribute, report in fairness.items():
        for name, bound in params.fairness.max_difference.items():
            checks.append(Check(f"{attribute}.{name}", report.get(name), bound, "max"))
    return checks


def failures(checks: list[Check]) -> list[Check]:
    return [check for check in checks if not check.passed]


def run(params: Params, reports: Path = REPORTS) -> list[Check]:
    metrics = read_json(reports / "metrics.json")
    fairness = read_json(reports / "fairness.json")
    return gate_checks(metrics, fairness, params)
