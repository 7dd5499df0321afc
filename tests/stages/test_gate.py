"""The gate: pass, fail with a specific reason, and the CLI's exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from greenlight.cli import app
from greenlight.config import Params
from greenlight.stages.gate import failures, gate_checks

ROOT = Path(__file__).resolve().parents[2]
METRICS = {"accuracy": 0.87, "roc_auc": 0.93, "f1": 0.7, "log_loss": 0.28}
FAIRNESS = {
    "sex": {"demographic_parity_difference": 0.17, "equalized_odds_difference": 0.06},
    "race": {"demographic_parity_difference": 0.16, "equalized_odds_difference": 0.12},
}


def with_gate(params: Params, **changes: dict) -> Params:
    return params.model_copy(update={"gate": params.gate.model_copy(update=changes)})


def test_default_thresholds_pass_a_good_model(params: Params) -> None:
    assert failures(gate_checks(METRICS, FAIRNESS, params)) == []


def test_metric_below_minimum_fails_with_its_name_and_values(params: Params) -> None:
    strict = with_gate(params, min={"accuracy": 0.9})
    [failed] = failures(gate_checks(METRICS, FAIRNESS, strict))
    assert failed.describe() == "accuracy = 0.8700, must be at least 0.9 (FAILED)"


def test_metric_above_maximum_fails(params: Params) -> None:
    strict = with_gate(params, min={}, max={"log_loss": 0.2})
    assert [c.name for c in failures(gate_checks(METRICS, FAIRNESS, strict))] == ["log_loss"]


def test_missing_metric_fails_rather_than_passing(params: Params) -> None:
    [failed] = failures(
        gate_checks({k: v for k, v in METRICS.items() if k != "f1"}, FAIRNESS, params)
    )
    assert failed.describe() == "f1: missing from the reports, so the gate cannot pass"


def test_fairness_difference_over_threshold_fails(params: Params) -> None:
    limits = {"demographic_parity_difference": 0.165, "equalized_odds_difference": 0.5}
    fairness_params = params.fairness.model_copy(update={"max_difference": limits})
    strict = params.model_copy(update={"fairness": fairness_params})
    names = [c.name for c in failures(gate_checks(METRICS, FAIRNESS, strict))]
    assert names == ["sex.demographic_parity_difference"]


def gate_on(params: Params, basis: str) -> Params:
    fairness_params = params.fairness.model_copy(update={"gate_on": basis})
    return params.model_copy(update={"fairness": fairness_params})


def test_the_gate_can_judge_the_ends_of_each_interval(params: Params) -> None:
    """race's equalized odds: 0.12 estimated, [0.08, 0.43] at 95%: within 0.35 on the estimate,
    over it on the strict upper end; a 0.1 limit fails the estimate, not the lenient lower end."""
    intervals = {
        "sex": {
            "demographic_parity_difference": [0.15, 0.19],
            "equalized_odds_difference": [0.04, 0.09],
        },
        "race": {
            "demographic_parity_difference": [0.12, 0.21],
            "equalized_odds_difference": [0.08, 0.43],
        },
    }
    fairness = {
        name: {**report, "interval": intervals[name], "confidence_level": 0.95}
        for name, report in FAIRNESS.items()
    }
    assert failures(gate_checks(METRICS, fairness, params)) == []
    [strict] = failures(gate_checks(METRICS, fairness, gate_on(params, "upper")))
    assert strict.describe() == (
        "race.equalized_odds_difference = 0.4300 (upper end of its 95% interval), "
        "must be at most 0.35 (FAILED)"
    )
    tight = params.fairness.model_copy(
        update={"max_difference": {"equalized_odds_difference": 0.1}}
    )
    tighter = params.model_copy(update={"fairness": tight})
    assert [c.name for c in failures(gate_checks(METRICS, fairness, tighter))] == [
        "race.equalized_odds_difference"
    ]
    assert failures(gate_checks(METRICS, fairness, gate_on(tighter, "lower"))) == []


def test_a_bound_missing_from_the_report_fails_the_check(params: Params) -> None:
    [*checks] = gate_checks(METRICS, FAIRNESS, gate_on(params, "upper"))
    fairness_checks = [check for check in checks if "." in check.name]
    assert fairness_checks and all(not check.passed for check in fairness_checks)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(ROOT / name, tmp_path)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "metrics.json").write_text(json.dumps(METRICS))
    (tmp_path / "reports" / "fairness.json").write_text(json.dumps(FAIRNESS))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cli_passes_then_one_params_change_makes_it_fail(project: Path) -> None:
    passed = CliRunner().invoke(app, ["gate"])
    assert passed.exit_code == 0, passed.output
    assert "gate passed" in passed.output
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["fairness"]["max_difference"]["demographic_parity_difference"] = 0.1
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    failed = CliRunner().invoke(app, ["gate"])
    assert failed.exit_code == 1
    assert (
        "gate FAILED: sex.demographic_parity_difference = 0.1700, must be at most 0.1"
        in failed.output
    )


def test_a_misspelt_metric_is_refused_when_params_are_read(project: Path) -> None:
    """Before the name check, `acuracy` ran the whole pipeline and then failed as missing."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gate"]["min"]["acuracy"] = params["gate"]["min"].pop("accuracy")
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    refused = CliRunner().invoke(app, ["gate"])
    assert refused.exit_code == 2
    assert "gate.min.acuracy" in refused.output and "'accuracy'" in refused.output
