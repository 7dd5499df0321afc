"""Stage 7: the model card (reports/model_card.md): the model, its version, intended use, limits,
data, test metrics, fairness, explanations and the library versions. Deterministic, like every DVC
output: the same inputs give the same bytes on every machine, so the card is committed
(`cache: false`) and `git log -S <model version>` finds the commit that introduced a model. What
differs between runs (the commit, times, host) is in reports/provenance.json, written by the train
stage."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from greenlight.config import Params
from greenlight.files import md5_file, read_json, write_text
from greenlight.manifest import read_manifest
from greenlight.markdown import interval, pass_fail, table, too_small_row
from greenlight.paths import BUNDLE, REPORTS
from greenlight.provenance import device_label, package_versions

GROUP_COLUMNS = ("count", "selection_rate", "true_positive_rate", "false_positive_rate", "accuracy")


def data_hashes(params: Params) -> dict[str, str]:
    """md5 of each raw file the dataset spec names, as DVC would record it."""
    return {file.path: md5_file(Path(file.path)) for file in params.dataset.files.values()}


def card_record(params: Params, manifest: dict, metrics: dict) -> dict[str, Any]:
    """What the card states, all of it the same for the same inputs on any machine."""
    return {
        "model_version": manifest["model_version"],
        "model": manifest["model"],
        "training": manifest["training"],
        "data": data_hashes(params),
        "metrics": metrics,
        "environment": {"python": python_minor(), "packages": package_versions()},
    }


def python_minor() -> str:
    """3.11, not 3.11.7: a patch release changes no output, and runners differ in it."""
    return ".".join(str(part) for part in sys.version_info[:2])


def run(params: Params) -> dict[str, Any]:
    manifest = read_manifest(BUNDLE)
    metrics = read_json(REPORTS / "metrics.json")
    fairness = read_json(REPORTS / "fairness.json")
    explanations = read_json(REPORTS / "explanations.json")
    record = card_record(params, manifest, metrics)
    write_text(REPORTS / "model_card.md", render_card(params, record, fairness, explanations))
    return record


def render_card(
    params: Params, record: dict[str, Any], fairness: dict[str, Any], explanations: dict[str, Any]
) -> str:
    sections = [
        f"# Model card: {params.dataset.name} {record['model_version']}",
        _details(record),
        f"## Intended use\n\n{params.card.intended_use.strip()}",
        "## Limitations\n\n" + "\n".join(f"- {item}" for item in params.card.limitations),
        _data_section(params, record),
        "## Evaluation (test split)\n\n" + table(["metric", "value"], record["metrics"].items()),
        "## Fairness (test split)\n\n" + _fairness_section(fairness),
        _explanations_section(explanations),
        _figures(fairness),
        _provenance_section(record),
    ]
    return "\n\n".join(sections) + "\n"


def _details(record: dict[str, Any]) -> str:
    model, training = record["model"], record["training"]
    rows = [
        ("model", model["kind"]),
        ("version", record["model_version"]),
        ("trained on", device_label(training)),
        ("validation ROC AUC", training["valid_roc_auc"]),
    ]
    params = ", ".join(f"{key}={value}" for key, value in model["params"].items())
    return "## Model\n\n" + table(["", ""], rows) + f"\n\nHyper-parameters: {params}"


def _data_section(params: Params, record: dict[str, Any]) -> str:
    spec, data = params.dataset, record["data"]
    features = ", ".join(spec.feature_columns(params.featurize.use_sensitive))
    files = "\n".join(f"- `{path}`: md5 `{md5}`" for path, md5 in data.items())
    return (
        f"## Data\n\n{spec.description}\n\nTarget: `{spec.target.column}` "
        f"(positive: `{spec.target.positive}`). Features: {features}. Sensitive attributes "
        f"(evaluated, {'used' if params.featurize.use_sensitive else 'not used'} as features): "
        f"{', '.join(spec.sensitive)}.\n\n{files}"
    )


def _fairness_section(fairness: dict[str, Any]) -> str:
    return "\n\n".join(_attribute(name, report) for name, report in fairness.items())


def _attribute(attribute: str, report: dict[str, Any]) -> str:
    minimum, width = report.get("min_group_count"), len(GROUP_COLUMNS) + 1
    rows = [
        too_small_row(group, values, width, minimum)
        if values.get("too_small")
        else (group, *(values.get(key) for key in GROUP_COLUMNS))
        for group, values in report["groups"].items()
    ]
    level = report.get("confidence_level")
    headers = ["difference", "estimate", f"{level:.0%} interval" if level else "interval", "max"]
    limits = [
        (name, report.get(name), interval(report.get("interval", {}).get(name)), limit)
        for name, limit in report["thresholds"].items()
    ]
    verdict = f"Within the thresholds: {pass_fail(report['passed'])}."
    groups = table(["group", *GROUP_COLUMNS], rows)
    return f"### {attribute}\n\n{groups}\n\n{table(headers, limits)}\n\n{verdict}"


def _explanations_section(explanations: dict[str, Any]) -> str:
    """Mean |contribution| per feature, overall and per group (too-small groups by count only)."""
    units, overall = explanations["units"], explanations["overall"]
    intro = (
        f"{explanations['method']} on {explanations['records']:,} test records; mean absolute "
        f"contribution per feature, in {units} (base value {explanations['base_value']:.4f})."
    )
    parts = [intro, table(["feature", "overall"], overall.items())]
    for attribute, groups in explanations["groups"].items():
        parts.append(f"By {attribute}:\n\n" + _groups_table(overall, groups))
    return "## Explanations (test split)\n\n" + "\n\n".join(parts)


def _groups_table(overall: dict[str, float], groups: dict[str, Any]) -> str:
    judged = {name: entry for name, entry in groups.items() if not entry.get("too_small")}
    headers = ["feature", *(f"{name} (n={entry['count']:,})" for name, entry in judged.items())]
    rows = [
        (feature, *(entry["mean_abs"].get(feature) for entry in judged.values()))
        for feature in overall
    ]
    small = [
        f"{name} (n={entry['count']:,})" for name, entry in groups.items() if name not in judged
    ]
    note = f"\n\nToo small to judge: {', '.join(small)}." if small else ""
    return table(headers, rows) + note


def _figures(fairness: dict[str, Any]) -> str:
    paths = [
        f"figures/{name}.png"
        for name in ("roc", "precision_recall", "calibration", "confusion", "importance")
    ]
    paths += [f"fairness/{attribute}.png" for attribute in fairness]
    paths.append("explain/contributions.png")
    return "## Figures\n\n" + "\n".join(f"![{Path(path).stem}]({path})" for path in paths)


def _provenance_section(record: dict[str, Any]) -> str:
    env, version = record["environment"], record["model_version"]
    rows = [("python", env["python"]), *env["packages"].items()]
    return (
        "## Provenance\n\n" + table(["", ""], rows) + "\n\nThe commit that introduced this model "
        f"is the oldest that `git log -S {version} -- reports/model_card.md` lists. The run "
        "that trained it here (commit, times, host): `provenance.json`, beside this card "
        "(not versioned)."
    )


def main(params: Params) -> dict[str, Any]:
    record = run(params)
    return {"model_card": str(REPORTS / "model_card.md"), "model_version": record["model_version"]}
