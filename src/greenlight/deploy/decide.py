"""The promotion decision of an A/B split, pure: per-variant counts in, promote, keep or roll back
out, with the numbers that decided it. Rules, in order:

1. fewer than `min_samples` labelled predictions on either variant: keep splitting;
2. the candidate's fairness gap (the largest difference over the sensitive attributes, where a
   sensitive-attribute store was given) exceeds the live one's by more than
   `max_fairness_regression`: roll back;
3. a two-sided two-proportion z-test of the metric (accuracy, or the share of positive outcomes)
   at `alpha`: promote if the candidate is significantly better, roll back if significantly
   worse; else keep splitting, or promote once the split has run `max_duration_s`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from greenlight.deploy.settings import SplitSettings

Action = Literal["promote", "keep", "rollback"]


@dataclass(frozen=True)
class VariantCounts:
    samples: int  # labelled predictions (predictions with an outcome)
    successes: int  # correct ones (accuracy) or positive outcomes (positive_outcome)
    fairness_gap: float | None = None  # largest fairness difference; None: not measured

    @property
    def rate(self) -> float | None:
        return self.successes / self.samples if self.samples else None


@dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float

    def significant(self, alpha: float) -> bool:
        return self.p_value < alpha


@dataclass(frozen=True)
class Verdict:
    action: Action
    rule: str  # min_samples | fairness | significance | max_duration
    reason: str
    numbers: dict[str, Any]


def two_proportion_z(candidate: VariantCounts, live: VariantCounts) -> ZTest:
    """z of the candidate's rate minus the live one's, pooled standard error; z 0, p 1 when
    there is no variance (every sample a success, or none)."""
    total = candidate.samples + live.samples
    pooled = (candidate.successes + live.successes) / total
    variance = pooled * (1 - pooled) * (1 / candidate.samples + 1 / live.samples)
    if variance <= 0:
        return ZTest(0.0, 1.0)
    z = ((candidate.rate or 0.0) - (live.rate or 0.0)) / math.sqrt(variance)
    return ZTest(z, math.erfc(abs(z) / math.sqrt(2)))


def decide(
    candidate: VariantCounts, live: VariantCounts, settings: SplitSettings, elapsed_s: float
) -> Verdict:
    """The verdict for the split so far (elapsed_s: how long it has run)."""
    numbers = _numbers(candidate, live, elapsed_s)
    fewest = min(candidate.samples, live.samples)
    if fewest < settings.min_samples:
        why = f"{fewest} labelled predictions on a variant, fewer than {settings.min_samples}"
        return Verdict("keep", "min_samples", why, numbers)
    regression = fairness_regression(candidate, live)
    if regression is not None:
        numbers["fairness_regression"] = round(regression, 6)
        if regression > settings.max_fairness_regression:
            limit = settings.max_fairness_regression
            why = f"the candidate's fairness gap is {regression:.3f} wider than live's"
            why += f" (limit {limit})"
            return Verdict("rollback", "fairness", why, numbers)
    return _significance(candidate, live, settings, elapsed_s, numbers)


def fairness_regression(candidate: VariantCounts, live: VariantCounts) -> float | None:
    """How much wider the candidate's fairness gap is than live's; None unless both measured."""
    if candidate.fairness_gap is None or live.fairness_gap is None:
        return None
    return candidate.fairness_gap - live.fairness_gap


def _significance(
    candidate: VariantCounts,
    live: VariantCounts,
    settings: SplitSettings,
    elapsed_s: float,
    numbers: dict[str, Any],
) -> Verdict:
    test = two_proportion_z(candidate, live)
    numbers.update(z=round(test.z, 4), p_value=float(f"{test.p_value:.4g}"), alpha=settings.alpha)
    rates = f"{settings.metric} {candidate.rate:.4f} vs live {live.rate:.4f}"
    figures = f"{rates}, z={test.z:.2f}, p={test.p_value:.3g}"
    if test.significant(settings.alpha):
        better = test.z > 0
        action: Action = "promote" if better else "rollback"
        why = f"the candidate is significantly {'better' if better else 'worse'}: {figures}"
        return Verdict(action, "significance", why, numbers)
    limit = settings.max_duration_s
    if limit is not None and elapsed_s >= limit:
        why = f"no significant difference after {elapsed_s:.0f} s (limit {limit:g} s): {figures}"
        return Verdict("promote", "max_duration", why, numbers)
    return Verdict("keep", "significance", f"no significant difference yet: {figures}", numbers)


def _numbers(candidate: VariantCounts, live: VariantCounts, elapsed_s: float) -> dict[str, Any]:
    """The figures an audit entry keeps: counts and rates, never a group or an attribute name."""
    shown: dict[str, Any] = {"elapsed_s": round(elapsed_s, 1)}
    for name, counts in (("candidate", candidate), ("live", live)):
        rate = counts.rate
        shown[f"{name}_samples"], shown[f"{name}_successes"] = counts.samples, counts.successes
        shown[f"{name}_rate"] = None if rate is None else round(rate, 6)
        shown[f"{name}_fairness_gap"] = counts.fairness_gap
    return shown
