"""`greenlight deploy decide`, and the split's part of `deploy status`: the per-variant figures
(variants.py) into the pure decision (decide.py), the verdict and its numbers into the audit
log, then promote (all traffic to the candidate, the old color stopped) or roll back (all traffic
to the live color, the candidate stopped), or keep splitting. The audit entry holds counts,
rates and differences only, under generic keys: never a sensitive attribute's name or value."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from greenlight.deploy.audit import AuditLog
from greenlight.deploy.controller import DeployError
from greenlight.deploy.decide import Verdict, decide
from greenlight.deploy.ending import end_split
from greenlight.deploy.settings import DeploySettings
from greenlight.deploy.targets.base import Color, TargetState
from greenlight.deploy.targets.proxied import ProxiedTarget
from greenlight.deploy.targets.state_dir import SplitModel
from greenlight.deploy.variants import SplitRead, VariantFigures, variant_figures

RESULTS = {"promote": "ok", "keep": "info", "rollback": "failed"}


@dataclass
class Decision:
    target: ProxiedTarget
    settings: DeploySettings
    sensitive: Path | None = None  # the separate, access-controlled sensitive-attribute store
    echo: TextIO | None = field(default_factory=lambda: sys.stdout)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def run(self) -> Verdict:
        """Measure, decide, record, act; DeployError when no split is in progress."""
        state, split = self.target.state(), self.target.current_split()
        if split is None or state.live is None:
            raise DeployError("no split in progress: start one with `greenlight deploy --split N`")
        figures = self.figures(split, state.live)
        candidate, live = figures[split.candidate], figures[state.live]
        counts = self.settings.split
        elapsed = (self.now - datetime.fromisoformat(split.started_at)).total_seconds()
        verdict = decide(candidate.counts(counts), live.counts(counts), counts, elapsed)
        audit = self._audit(candidate, live)
        audit.record("decide", RESULTS[verdict.action], verdict.reason, **_details(verdict))
        self._act(verdict, split, state, audit)
        return verdict

    def figures(self, split: SplitModel, live: Color) -> dict[Color, VariantFigures]:
        count = self.settings.split.min_group_count
        return variant_figures(SplitRead(self.target, split, live, self.sensitive, count))

    def _audit(self, candidate: VariantFigures, live: VariantFigures) -> AuditLog:
        return AuditLog(
            path=self.settings.audit_log,
            target=self.target.name,
            version=candidate.version,
            previous_version=live.version,
            echo=self.echo,
        )

    def _act(
        self, verdict: Verdict, split: SplitModel, state: TargetState, audit: AuditLog
    ) -> None:
        if verdict.action != "keep":
            end_split(self.target, verdict.action, split, state, audit)


def _details(verdict: Verdict) -> dict[str, Any]:
    return {"action": verdict.action, "rule": verdict.rule, **verdict.numbers}


def split_status(decision: Decision) -> dict[str, Any] | None:
    """The split in progress and both variants' figures, for `deploy status`; None: no split."""
    state, split = decision.target.state(), decision.target.current_split()
    if split is None or state.live is None:
        return None
    figures = decision.figures(split, state.live)
    shown = {"candidate": split.candidate, "percent": split.percent}
    variants = {color: asdict(one) for color, one in figures.items()}
    return {**shown, "started_at": split.started_at, "variants": variants}


METRICS = (
    ("requests_total", "counter", "Requests HAProxy sent to the variant since the split began"),
    ("errors_total", "counter", "5xx answers of the variant since the split began"),
    ("predictions_total", "counter", "Records the variant predicted since the split began"),
    ("positive_rate", "gauge", "Share of the variant's predictions that are the positive label"),
    ("outcomes_total", "counter", "The variant's predictions with a reported outcome"),
    ("accuracy", "gauge", "Accuracy of the variant's predictions on their outcomes"),
    ("positive_outcome_rate", "gauge", "Share of the variant's outcomes that are positive"),
    ("fairness_gap", "gauge", "Largest fairness difference of the variant (sensitive store)"),
)


def prometheus_text(figures: dict[Color, VariantFigures]) -> str:
    """The figures in Prometheus' text format (for the node exporter's textfile collector)."""
    lines = []
    for name, kind, help_text in METRICS:
        lines += [
            f"# HELP greenlight_variant_{name} {help_text}",
            f"# TYPE greenlight_variant_{name} {kind}",
        ]
        lines += [_sample(name, one, _value(name, one)) for one in figures.values()]
    lines += ["# HELP greenlight_variant_latency_ms Latency percentiles of the variant's requests"]
    lines.append("# TYPE greenlight_variant_latency_ms gauge")
    for one in figures.values():
        for quantile, value in one.traffic.percentiles_ms.items():
            lines.append(_sample("latency_ms", one, value, f',quantile="{quantile}"'))
    return "\n".join(line for line in lines if line) + "\n"


def _value(name: str, one: VariantFigures) -> float | None:
    from greenlight.deploy.variants import fairness_gap  # noqa: PLC0415

    values = {
        "requests_total": one.traffic.requests,
        "errors_total": one.traffic.errors,
        "predictions_total": one.predictions,
        "positive_rate": one.positive_rate,
        "outcomes_total": one.outcomes,
        "accuracy": one.accuracy,
        "positive_outcome_rate": one.positive_outcome_rate,
        "fairness_gap": fairness_gap(one.fairness),
    }
    return values[name]


def _sample(name: str, one: VariantFigures, value: float | None, extra: str = "") -> str:
    """One sample line; none for a figure not measured yet (no outcomes, no store)."""
    if value is None:
        return ""
    version = (one.version or "").replace("\\", "\\\\").replace('"', '\\"')
    labels = f'color="{one.color}",role="{one.role}",version="{version}"{extra}'
    return f"greenlight_variant_{name}{{{labels}}} {value}"
