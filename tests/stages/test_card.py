"""The card stage: provenance that names code, data, params, environment and results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import PipelineRun
from greenlight.stages import card


def test_provenance_has_every_section(pipeline_run: PipelineRun) -> None:
    record = json.loads((pipeline_run.reports / "provenance.json").read_text())
    assert set(record) >= {
        "model_version", "git", "training", "data", "params", "environment", "metrics",
        "fairness", "artifacts",
    }  # fmt: skip
    assert record["training"]["device"] == "cpu"
    assert record["training"]["seconds"] > 0
    assert record["environment"]["packages"]["scikit-learn"]
    assert record["fairness"]["sex"]["passed"] in (True, False)
    assert "columns" not in record["params"]["dataset"]  # the schema is hashed, not copied


def test_card_states_version_use_limits_metrics_and_fairness(pipeline_run: PipelineRun) -> None:
    text = (pipeline_run.reports / "model_card.md").read_text()
    version = json.loads((pipeline_run.bundle / "manifest.json").read_text())["model_version"]
    assert text.startswith(f"# Model card: adult {version}")
    for heading in (
        "## Intended use",
        "## Limitations",
        "## Evaluation",
        "## Fairness",
        "## Provenance",
    ):
        assert heading in text
    assert "| accuracy |" in text
    assert "demographic_parity_difference" in text
    assert "![roc](figures/roc.png)" in text


def test_data_hashes_come_from_dvc_lock_and_data_dvc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = {"stages": {"validate": {"deps": [
        {"path": "data", "md5": "abc.dir"}, {"path": "schema.yaml", "md5": "def"},
        {"path": "src/greenlight/stages/validate.py", "md5": "code"},
    ]}}}  # fmt: skip
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    (tmp_path / "data.dvc").write_text(
        yaml.safe_dump({"outs": [{"path": "data", "md5": "abc.dir"}]})
    )
    monkeypatch.chdir(tmp_path)
    hashes = card.data_hashes()
    assert hashes == {
        "data.dvc": {"path": "data", "md5": "abc.dir"},
        "files": {"data": "abc.dir", "schema.yaml": "def"},
    }


def test_data_hashes_without_dvc_files_are_empty_not_invented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert card.data_hashes() == {"data.dvc": {"path": None, "md5": None}, "files": {}}
