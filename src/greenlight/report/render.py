"""The pull-request comment as Markdown, from plain data (pure: the I/O is in `sources`).

Order follows what a reviewer decides on: the verdict (a stale dvc.lock, first, fails it) and the
hardware first, then metrics against the base, what changed in behaviour, the figures (base and
branch in each), the params that changed, fairness per sensitive attribute, explanations, data,
cost, provenance.

The comment links no image: its charts are Mermaid blocks GitHub draws itself, and the PNGs stay
in the workflow's artifacts (a linked local image would have to be uploaded somewhere). It
stays under GitHub's comment limit: the long optional parts are dropped, and named, when it
would not."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from greenlight.lockcheck import StaleStage
from greenlight.lockcheck import verdict as lock_verdict
from greenlight.markdown import interval, pass_fail, table, too_small_row
from greenlight.provenance import device_label
from greenlight.report import sections
from greenlight.report.compare import MetricRow, ParamChange, changed_params, metric_rows
from greenlight.report.device import Device
from greenlight.report.inputs import ReportInputs, Side
from greenlight.stages.gate import Check, failures

__all__ = ["ReportInputs", "Side", "render"]

GROUP_COLUMNS = {
    "count": "count",
    "selection_rate": "selection rate",
    "true_positive_rate": "TPR",
    "false_positive_rate": "FPR",
    "accuracy": "accuracy",
}
TREND_LABELS = {"worse": "**worse**", "unchanged": ""}
PARAM_WIDTH = 60  # longer values (prose for the model card) are cut in the table


# GitHub refuses a comment above 65,536 characters; pr-comment adds its marker line: a margin.
MAX_COMMENT_CHARS = 60_000


def render(inputs: ReportInputs, limit: int = MAX_COMMENT_CHARS) -> str:
    """The comment; optional sections (later ones first) are left out, and named, if it would
    be longer than `limit` characters."""
    required, optional = _sections(inputs)
    kept = list(optional)
    dropped: list[str] = []
    while kept and _length(required, kept, dropped) > limit:
        dropped.insert(0, kept.pop()[0])
    parts = [*required[:2], *(text for _, text in kept), *required[2:]]
    if dropped:
        parts.append(f"Left out to stay under GitHub's comment limit: {', '.join(dropped)}.")
    return "\n\n".join(part for part in parts if part) + "\n"


def _sections(inputs: ReportInputs) -> tuple[list[str], list[tuple[str, str]]]:
    """(required: verdict (a stale dvc.lock first), runner line, then provenance), (optional:
    name, text) in order."""
    checks = {check.name: check for check in inputs.checks}
    base, head = inputs.base, inputs.head
    required = [
        "\n\n".join(headline(inputs.checks, inputs.stale)),
        f"Compared with `{inputs.base_ref}`. Runner: {inputs.device.describe()}",
        provenance_section(inputs.provenance, inputs.manifest, inputs.device),
    ]
    optional = [
        ("metrics", metrics_section(inputs, checks)),
        ("behaviour", sections.behaviour_section(inputs)),
        ("figures", sections.figures_section(inputs)),
        ("params", params_section(inputs.base_ref, base.params, head.params or {})),
        ("fairness", fairness_section(base.fairness or {}, head.fairness or {}, checks)),
        ("explanations", sections.explanations_section(base, head)),
        ("data", sections.data_section(inputs.base_ref, base.validation, head.validation)),
        ("cost", sections.cost_section(inputs)),
        ("PNG list", sections.artifacts_section(inputs.figures)),
    ]
    return required, [(name, text) for name, text in optional if text]


def _length(required: Sequence[str], kept: Sequence[tuple[str, str]], dropped: Sequence) -> int:
    note = 200 if dropped else 0
    return sum(len(text) + 2 for text in [*required, *(text for _, text in kept)]) + note


def headline(checks: Sequence[Check], stale: Sequence[StaleStage]) -> list[str]:
    """The verdict; a stale dvc.lock comes first and no "passed" heading follows it: what the
    checks judged is not what the pull request ships."""
    if not stale:
        return [verdict(checks)]
    failed = len(failures(list(checks)))
    gate = f"{failed} of {len(checks)} gate checks failed" if failed else "the gate checks pass"
    return [
        f"### ❌ {lock_verdict(list(stale))}",
        f"The committed dvc.lock does not name what this repro produced ({gate} on the reproduced "
        "outputs): run `dvc repro`, commit dvc.lock and push its outputs (`dvc push`).",
    ]


def verdict(checks: Sequence[Check]) -> str:
    """One line: passed or failed, and why."""
    failed = failures(list(checks))
    if not checks:
        return "### ⚠️ Gate passed vacuously: params.yaml sets no gate or fairness thresholds"
    if not failed:
        return f"### ✅ Gate passed: all {len(checks)} checks meet the thresholds in params.yaml"
    reasons = "; ".join(check.describe() for check in failed)
    return f"### ❌ Gate failed, {len(failed)} of {len(checks)} checks: {reasons}"


def metrics_section(inputs: ReportInputs, checks: Mapping[str, Check]) -> str:
    bounds = [check for check in checks.values() if "." not in check.name]
    gate_min = {check.name: check.bound for check in bounds if check.kind == "min"}
    gate_max = {check.name: check.bound for check in bounds if check.kind == "max"}
    rows = metric_rows(inputs.base.metrics, inputs.head.metrics or {}, gate_min, gate_max)
    headers = ["metric", f"base `{inputs.base_ref}`", "this branch", "delta", "change", "gate"]
    body = table(headers, [_metric_cells(row, checks.get(row.name)) for row in rows])
    if inputs.base.metrics is None:
        body = f"No metrics at `{inputs.base_ref}` yet: every metric is new.\n\n{body}"
    return f"#### Metrics (test split)\n\n{body}"


def params_section(base_ref: str, base: Mapping[str, Any] | None, head: Mapping[str, Any]) -> str:
    title = "#### Params changed"
    if base is None:
        return f"{title}\n\nNo params.yaml at `{base_ref}`: nothing to compare with."
    changes = changed_params(base, head)
    if not changes:
        return f"{title}\n\nNone: same params.yaml as `{base_ref}`."
    rows = [(f"`{change.key}`", *_param_values(change)) for change in changes]
    return f"{title}\n\n" + table(["param", f"base `{base_ref}`", "this branch"], rows)


def fairness_section(
    base: Mapping[str, Any], head: Mapping[str, Any], checks: Mapping[str, Check]
) -> str:
    parts = ["#### Fairness (test split)"]
    parts += [_attribute(name, report, base.get(name), checks) for name, report in head.items()]
    dropped = [name for name in base if name not in head]
    if dropped:
        parts.append(f"No longer evaluated (present at the base): {', '.join(dropped)}.")
    if len(parts) == 1:
        parts.append("No sensitive attribute evaluated.")
    return "\n\n".join(parts)


def provenance_section(
    provenance: Mapping[str, Any], manifest: Mapping[str, Any], device: Device
) -> str:
    """The model by its version; the training run when one ran here (else the bundle came from
    the DVC cache and `git log -S <version>` names the commit that introduced it)."""
    git, training = provenance.get("git", {}), provenance.get("training", {})
    data = provenance.get("data", {}).get("data.dvc", {})
    model = f"{manifest.get('model', {}).get('kind')} `{manifest.get('model_version')}`"
    rows = [
        ("model", f"{model}, threshold {manifest.get('threshold')}"),
        ("trained at commit", _commit(git)),
        ("data (data.dvc md5)", f"`{data.get('md5')}`" if data else "n/a"),
        ("trained on", _trained_on(training, manifest)),
        ("this runner", ", ".join(device.gpus) if device.gpu_used else "CPU (no usable GPU)"),
        ("python", provenance.get("host", {}).get("python")),
    ]
    return "#### Provenance\n\n" + table(["", ""], rows)


def _commit(git: Mapping[str, Any]) -> str:
    if not git:
        return "not trained on this runner (the bundle came from the DVC cache)"
    return f"`{git.get('commit')}`" + (" (uncommitted changes)" if git.get("dirty") else "")


def _trained_on(training: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    if not training:
        return f"{device_label(manifest.get('training', {}))} (elsewhere)"
    return f"{device_label(training)} in {training.get('seconds')} s"


def _metric_cells(row: MetricRow, check: Check | None) -> tuple[Any, ...]:
    delta = "n/a" if row.delta is None else _signed(row.delta)
    if row.trend == "unchanged":
        delta = "0"
    trend = TREND_LABELS.get(row.trend, row.trend)
    gate = ""
    if check is not None:
        relation = "≥" if check.kind == "min" else "≤"
        gate = f"{relation} {check.bound} {pass_fail(check.passed)}"
    return (row.name, row.base, row.head, delta, trend, gate)


def _signed(delta: float) -> str:
    return f"{delta:+,}" if isinstance(delta, int) else f"{delta:+.4f}"


def _param_values(change: ParamChange) -> tuple[str, str]:
    return (
        _param_value(change.base, absent=change.missing == "base"),
        _param_value(change.head, absent=change.missing == "head"),
    )


def _param_value(value: Any, absent: bool) -> str:
    if absent:
        return "_absent_"
    text = value if isinstance(value, str) else json.dumps(value)  # as YAML would spell it
    text = " ".join(text.split())
    return f"`{text[:PARAM_WIDTH]}{'…' if len(text) > PARAM_WIDTH else ''}`"


def _attribute(
    name: str,
    report: Mapping[str, Any],
    base: Mapping[str, Any] | None,
    checks: Mapping[str, Check],
) -> str:
    gated = [
        check.name.split(".", 1)[1]
        for check in checks.values()
        if check.name.startswith(f"{name}.")
    ]
    metrics = dict.fromkeys([*_differences(report), *gated])
    rows = [_difference(metric, report, base, checks.get(f"{name}.{metric}")) for metric in metrics]
    level = report.get("confidence_level")
    headers = [
        "difference",
        "base",
        "this branch",
        f"{level:.0%} interval" if level else "interval",
        "max",
        "result",
    ]
    return f"**{name}**\n\n{_group_table(report)}\n\n{table(headers, rows)}"


def _group_table(report: Mapping[str, Any]) -> str:
    groups, minimum = report.get("groups", {}), report.get("min_group_count")
    keys = [key for key in GROUP_COLUMNS if any(key in values for values in groups.values())]
    rows = [
        too_small_row(group, values, len(keys) + 1, minimum)
        if values.get("too_small")
        else (group, *(values.get(key) for key in keys))
        for group, values in groups.items()
    ]
    return table(["group", *(GROUP_COLUMNS[key] for key in keys)], rows)


def _differences(report: Mapping[str, Any]) -> list[str]:
    return [key for key in report if key.endswith("_difference")]


def _difference(
    metric: str, report: Mapping[str, Any], base: Mapping[str, Any] | None, check: Check | None
) -> tuple[Any, ...]:
    base_value = None if base is None else base.get(metric)
    bounds = interval(report.get("interval", {}).get(metric))
    if check is None:
        return (metric, base_value, report.get(metric), bounds, None, "not gated")
    result = pass_fail(check.passed) + (f" (on the {check.basis})" if check.basis else "")
    return (metric, base_value, report.get(metric), bounds, check.bound, result)
