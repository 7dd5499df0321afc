"""Stage 6: the model card (reports/model_card.md) and full provenance (reports/provenance.json):
code commit, data hashes, params, environment, device, training time, metrics, fairness."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from greenlight.config import Params
from greenlight.files import read_json, write_json, write_text
from greenlight.gitinfo import git_state
from greenlight.manifest import read_manifest
from greenlight.markdown import pass_fail, table
from greenlight.paths import BUNDLE, REPORTS

PACKAGES = ("scikit-learn", "torch", "pandas", "numpy", "pandera", "fairlearn", "skops",
            "safetensors", "dvc", "bentoml")  # fmt: skip


def data_hashes(lock_path: Path = Path("dvc.lock"), pointer: Path = Path("data.dvc")) -> dict:
    """md5 of each raw file as DVC recorded it (dvc.lock) and of the data folder (data.dvc)."""
    lock = yaml.safe_load(lock_path.read_text()) if lock_path.is_file() else {}
    deps = lock.get("stages", {}).get("validate", {}).get("deps", [])
    files = {dep["path"]: dep.get("md5") for dep in deps if not dep["path"].startswith("src/")}
    folder = yaml.safe_load(pointer.read_text())["outs"][0] if pointer.is_file() else {}
    return {"data.dvc": {"path": folder.get("path"), "md5": folder.get("md5")}, "files": files}


def environment() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None  # optional for this model: recorded as absent, not guessed
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": versions}


def provenance(params: Params, manifest: dict, metrics: dict, fairness: dict) -> dict[str, Any]:
    state = git_state()
    return {
        "model_version": manifest["model_version"],
        "git": {"commit": state.commit, "dirty": state.dirty},
        "training": manifest["training"],
        "model": manifest["model"],
        "data": data_hashes(),
        "params": params.model_dump(mode="json", exclude={"dataset": {"columns"}}),
        "environment": environment(),
        "metrics": metrics,
        "fairness": {name: _fairness_summary(report) for name, report in fairness.items()},
        "artifacts": manifest["artifacts"],
    }


def run(params: Params, bundle_dir: Path = BUNDLE, reports: Path = REPORTS) -> dict[str, Any]:
    manifest = read_manifest(bundle_dir)
    metrics = read_json(reports / "metrics.json")
    fairness = read_json(reports / "fairness.json")
    record = provenance(params, manifest, metrics, fairness)
    write_json(reports / "provenance.json", record)
    write_text(reports / "model_card.md", render_card(params, record, fairness))
    return record


def render_card(params: Params, record: dict[str, Any], fairness: dict[str, Any]) -> str:
    sections = [
        f"# Model card: {params.dataset.name} {record['model_version']}",
        _details(record),
        f"## Intended use\n\n{params.card.intended_use.strip()}",
        "## Limitations\n\n" + "\n".join(f"- {item}" for item in params.card.limitations),
        _data_section(params, record),
        "## Evaluation (test split)\n\n" + table(["metric", "value"], record["metrics"].items()),
        "## Fairness (test split)\n\n" + _fairness_section(fairness),
        _figures(fairness),
        _provenance_section(record),
    ]
    return "\n\n".join(sections) + "\n"


def _details(record: dict[str, Any]) -> str:
    model, training = record["model"], record["training"]
    rows = [
        ("model", model["kind"]), ("version", record["model_version"]),
        ("trained on", training["device"]), ("training time (s)", training["seconds"]),
        ("validation ROC AUC", training["valid_roc_auc"]),
    ]  # fmt: skip
    params = ", ".join(f"{key}={value}" for key, value in model["params"].items())
    return "## Model\n\n" + table(["", ""], rows) + f"\n\nHyper-parameters: {params}"


def _data_section(params: Params, record: dict[str, Any]) -> str:
    spec, data = params.dataset, record["data"]
    features = ", ".join(spec.feature_columns(params.featurize.use_sensitive))
    files = "\n".join(f"- `{path}`: md5 `{md5}`" for path, md5 in data["files"].items())
    return (
        f"## Data\n\n{spec.description}\n\nTarget: `{spec.target.column}` "
        f"(positive: `{spec.target.positive}`). Features: {features}. Sensitive attributes "
        f"(evaluated, {'used' if params.featurize.use_sensitive else 'not used'} as features): "
        f"{', '.join(spec.sensitive)}.\n\n{files}"
    )


def _fairness_section(fairness: dict[str, Any]) -> str:
    parts = []
    for attribute, report in fairness.items():
        rows = [(group, *values.values()) for group, values in report["groups"].items()]
        headers = ["group", *next(iter(report["groups"].values())).keys()]
        limits = ", ".join(
            f"{name} {report[name]:.4f} (max {limit}) {pass_fail(report[name] <= limit)}"
            for name, limit in report["thresholds"].items()
        )
        parts.append(f"### {attribute}\n\n{table(headers, rows)}\n\n{limits}")
    return "\n\n".join(parts)


def _figures(fairness: dict[str, Any]) -> str:
    paths = [
        f"figures/{name}.png"
        for name in ("roc", "precision_recall", "calibration", "confusion", "importance")
    ]
    paths += [f"fairness/{attribute}.png" for attribute in fairness]
    return "## Figures\n\n" + "\n".join(f"![{Path(path).stem}]({path})" for path in paths)


def _provenance_section(record: dict[str, Any]) -> str:
    env, git = record["environment"], record["git"]
    rows = [
        ("git commit", git["commit"]), ("uncommitted changes", git["dirty"]),
        ("data (data.dvc md5)", record["data"]["data.dvc"]["md5"]), ("python", env["python"]),
        *((name, version) for name, version in env["packages"].items()),
    ]  # fmt: skip
    return "## Provenance\n\n" + table(["", ""], rows) + "\n\nFull record: `provenance.json`."


def _fairness_summary(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("demographic_parity_difference", "equalized_odds_difference", "passed")
    return {key: report[key] for key in keys}
