"""The comment's sections about behaviour, figures, explanations, data and cost, each base vs this
branch, from plain data (pure). Tables and charts show counts, rates and means, never a record;
groups too small to judge show their count only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from greenlight.markdown import table
from greenlight.report import charts
from greenlight.report.behaviour import Change, FlipRow, importance_changes
from greenlight.report.inputs import ReportInputs, Side

TOP_CHANGES = 5
CHART_RATES = {"selection_rate": "selection rate", "true_positive_rate": "TPR"}


def behaviour_section(inputs: ReportInputs) -> str:
    parts = ["#### What changed in behaviour (test split)", _flips_text(inputs)]
    if inputs.flips is not None:
        parts.append(_flips_table(inputs))
    parts += _changes(inputs.base, inputs.head)
    return "\n\n".join(parts)


def figures_section(inputs: ReportInputs) -> str:
    """Every chart holds both models; the base's series come from its committed files."""
    base, head = inputs.base, inputs.head
    parts = ["#### Figures: base vs this branch"]
    parts += [
        charts.curve_chart(curve, base.curves.get(curve.name), head.curves[curve.name])
        for curve in charts.CURVES
        if curve.name in head.curves
    ]
    parts += _group_charts(base.fairness or {}, head.fairness or {})
    parts += _importance_charts(base, head)
    return "\n\n".join(parts)


def explanations_section(base: Side, head: Side) -> str:
    if head.explanations is None:
        return ""
    explained, before = head.explanations, base.explanations or {}
    intro = (
        f"{explained['method']}, {explained['records']:,} test records: mean |contribution| per "
        f"feature in {explained['units']} (the contributions of a record sum, with the base value "
        f"{explained['base_value']:.4f}, to its log-odds)."
    )
    overall = _compare_rows(before.get("overall"), explained["overall"])
    headers = ["feature", "base", "this branch", "change"]
    parts = ["#### Explanations", intro, table(headers, overall)]
    by_group = [
        _group_spread(name, groups, before.get("groups", {}).get(name))
        for name, groups in explained.get("groups", {}).items()
    ]
    if by_group:
        parts.append(_details("Mean |contribution| by group", "\n\n".join(by_group)))
    return "\n\n".join(parts)


def data_section(
    base_ref: str, base: Mapping[str, Any] | None, head: Mapping[str, Any] | None
) -> str:
    """Rows, label balance and missing values per file (reports/validation.json)."""
    title = "#### Data (validation report)"
    if head is None:
        return f"{title}\n\nNo reports/validation.json on this branch."
    if base is None:
        return f"{title}\n\nNo validation report at `{base_ref}`: nothing to compare with."
    rows = [row for split in head.get("rows", {}) for row in _data_rows(split, base, head)]
    changed = [row for row in rows if row[-1] not in ("0", "")]
    summary = f"{len(changed)} of {len(rows)} figures differ from `{base_ref}`."
    body = table(["file", "measure", "base", "this branch", "change"], rows)
    return f"{title}\n\n{summary}\n\n" + (body if changed else _details("Unchanged figures", body))


def cost_section(inputs: ReportInputs) -> str:
    """Model size from each side's committed cost.json; timings from this runner (`timings`)."""
    rows = _cost_values(inputs)
    shown = [_cost_row(*row) for row in rows if row[2] is not None]
    missing = [row[0] for row in rows if row[2] is None]
    if not shown:
        return ""
    note = (
        "Timings are never committed (they differ from run to run). The one-record predict "
        "times are the fastest of 200 calls on one thread, both models timed by this report on "
        "this runner, one after the other; training time and the explained / unexplained ratio "
        "are this branch's, measured where its stages ran on this runner."
    )
    if missing:
        note += f" Not measured here (restored from the DVC cache): {', '.join(missing)}."
    return "#### Cost\n\n" + table(["", "base", "this branch", "change"], shown) + f"\n\n{note}"


def artifacts_section(figures: Sequence[str]) -> str:
    """PNGs are not linked (a comment can only show images hosted somewhere): they are kept
    as a workflow artifact, named here."""
    if not figures:
        return ""
    names = ", ".join(f"`{Path(path).as_posix()}`" for path in figures)
    where = "are kept in this run's workflow artifacts, not linked from the comment"
    return f"PNG renderings ({len(figures)}) {where}: {names}."


def _flips_text(inputs: ReportInputs) -> str:
    if inputs.flips is None:
        return f"Flipped predictions: not counted: {inputs.flips_note}"
    row, (positive, negative) = inputs.flips.overall, inputs.labels
    share = (row.flips or 0) / row.records if row.records else 0.0
    return (
        f"**{row.flips:,} of {row.records:,} test predictions flip** ({share:.2%}) between the "
        f"base model and this branch's: {row.to_positive:,} to `{positive}`, "
        f"{row.to_negative:,} to `{negative}`."
    )


def _flips_table(inputs: ReportInputs) -> str:
    positive, negative = inputs.labels
    headers = [
        "attribute",
        "group",
        "records",
        "flips",
        f"to `{positive}`",
        f"to `{negative}`",
        "share",
    ]
    rows = [
        _flip_cells(name, row, inputs.flips.minimum)
        for name, groups in inputs.flips.by_attribute.items()
        for row in groups
    ]
    return _details("Flips by group", table(headers, rows))


def _flip_cells(attribute: str, row: FlipRow, minimum: int) -> tuple[Any, ...]:
    if row.flips is None:
        return (attribute, row.group, row.records, f"too small to judge (< {minimum})", "", "", "")
    share = f"{row.flips / row.records:.2%}" if row.records else "n/a"
    return (attribute, row.group, row.records, row.flips, row.to_positive, row.to_negative, share)


def _changes(base: Side, head: Side) -> list[str]:
    parts = []
    contributions = importance_changes(_overall(base), _overall(head), TOP_CHANGES)
    if contributions and head.explanations is not None:
        parts.append(
            "Largest changes in mean |contribution| (log-odds):\n\n" + _change_table(contributions)
        )
    permutation = importance_changes(base.importance, head.importance, TOP_CHANGES)
    if permutation:
        parts.append("Largest changes in permutation importance:\n\n" + _change_table(permutation))
    return parts


def _overall(side: Side) -> Mapping[str, Any] | None:
    return None if side.explanations is None else side.explanations.get("overall")


def _change_table(changes: list[Change]) -> str:
    rows = [
        (change.feature, change.base, change.head, f"{change.delta:+.4f}") for change in changes
    ]
    return table(["feature", "base", "this branch", "change"], rows)


def _group_charts(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[str]:
    charts_ = []
    for attribute, report in head.items():
        before = (base.get(attribute) or {}).get("groups", {})
        for key, label in CHART_RATES.items():
            head_rates = _rates(report.get("groups", {}), key)
            if head_rates:
                title = f"{label[0].upper()}{label[1:]} by {attribute}"
                bars = charts.paired_bars(title, label, _rates(before, key), head_rates, rates=True)
                charts_.append(bars)
    return charts_


def _rates(groups: Mapping[str, Any], key: str) -> dict[str, float]:
    """Judged groups' rates; a too-small group (or an undefined rate) has no bar."""
    return {
        name: values[key]
        for name, values in groups.items()
        if not values.get("too_small") and isinstance(values.get(key), int | float)
    }


def _importance_charts(base: Side, head: Side) -> list[str]:
    found = []
    if head.importance:
        values = {name: entry["mean"] for name, entry in head.importance.items()}
        before = {name: entry["mean"] for name, entry in (base.importance or {}).items()}
        found.append(
            charts.paired_bars(
                "Permutation importance", "score drop", before, values, horizontal=True
            )
        )
    if head.explanations:
        before = _overall(base)
        found.append(
            charts.paired_bars(
                "Mean |contribution|", "log-odds", before, _overall(head), horizontal=True
            )
        )
    return found


def _compare_rows(base: Mapping[str, float] | None, head: Mapping[str, float]) -> list[tuple]:
    base = base or {}
    return [
        (name, base.get(name), value, _change(base.get(name), value))
        for name, value in head.items()
    ]


def _change(base: float | None, head: float | None) -> str:
    if base is None or head is None:
        return "n/a"
    delta = head - base
    if isinstance(delta, int):
        return f"{delta:+,}" if delta else "0"
    return f"{delta:+.4f}" if abs(delta) >= 5e-7 else "0"


def _group_spread(attribute: str, groups: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    """Per feature: each judged group's mean |contribution|, and the spread between the groups
    (largest minus smallest) here and at the base: a feature that drives predictions differently
    for one group than another."""
    judged = _judged_means(groups)
    counts = [f"{name} (n={groups[name]['count']:,})" for name in judged]
    headers = ["feature", *counts, "spread", "spread at base"]
    rows = _spread_rows(judged, _judged_means(base or {}))
    small = [
        f"{name} (n={entry['count']:,})" for name, entry in groups.items() if name not in judged
    ]
    note = f"\n\nToo small to judge: {', '.join(small)}." if small else ""
    return f"**{attribute}**\n\n{table(headers, rows)}{note}"


def _judged_means(groups: Mapping[str, Any]) -> dict[str, Mapping[str, float]]:
    return {name: entry["mean_abs"] for name, entry in groups.items() if "mean_abs" in entry}


def _spread_rows(judged: Mapping[str, Mapping], before: Mapping[str, Mapping]) -> list[tuple]:
    features = list(next(iter(judged.values()), {}))
    return [
        (
            feature,
            *(values.get(feature) for values in judged.values()),
            _spread(judged, feature),
            _spread(before, feature),
        )
        for feature in features
    ]


def _spread(groups: Mapping[str, Mapping[str, float]], feature: str) -> float | None:
    values = [entry[feature] for entry in groups.values() if feature in entry]
    return max(values) - min(values) if len(values) >= 2 else None


def _data_rows(split: str, base: Mapping[str, Any], head: Mapping[str, Any]) -> list[tuple]:
    rows = [(split, "rows", base.get("rows", {}).get(split), head["rows"][split])]
    rows += _keyed_rows(split, "labels", "label", (base, head), default=None)
    rows += _keyed_rows(split, "missing", "missing", (base, head), default=0)
    return [(*row, _change(row[2], row[3])) for row in rows]


def _keyed_rows(
    split: str, section: str, label: str, sides: tuple[Mapping, Mapping], default: Any
) -> list[tuple]:
    """One row per key either side has in `section` (label counts, missing values per column)."""
    base, head = (side.get(section, {}).get(split, {}) for side in sides)
    keys = sorted({*base, *head})
    return [
        (split, f"{label} `{key}`", base.get(key, default), head.get(key, default)) for key in keys
    ]


def _cost_values(inputs: ReportInputs) -> list[tuple[str, float | None, float | None, str]]:
    """(label, base, this branch, number format) for each cost figure."""
    timings, (base_ms, head_ms) = inputs.timings, inputs.timings.predict_ms
    return [
        ("model size (KiB)", _kib(inputs.base.cost), _kib(inputs.head.cost), ",.1f"),
        ("one record, predict (ms)", base_ms, head_ms, ".3f"),
        ("training time (s)", None, timings.training_seconds, ".2f"),
        ("one record, explained / unexplained", None, timings.explain_ratio, ".2f"),
    ]


def _kib(cost: Mapping[str, Any] | None) -> float | None:
    value = (cost or {}).get("model_bytes")
    return None if value is None else round(value / 1024, 1)


def _cost_row(label: str, old: float | None, new: float, spec: str) -> tuple[str, ...]:
    """(label, base, branch, relative change) as text."""
    change = f"{new / old - 1:+.0%}" if old else "n/a"
    return (label, "n/a" if old is None else format(old, spec), format(new, spec), change)


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"
