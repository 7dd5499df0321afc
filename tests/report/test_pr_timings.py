"""The comment's timings: both models timed by the report on one record, and the stages' own
records used only when they are about the model in the workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from conftest import PipelineRun
from greenlight.artifacts import load_bundle
from greenlight.report import timings

VERSION = "hgb-0123456789ab"


def write_records(reports: Path, provenance_version: str, latency_version: str) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    provenance = {"model_version": provenance_version, "training": {"seconds": 61.5}}
    latency = {"model_version": latency_version, "latency_ms": {"ratio": 1.4}}
    (reports / "provenance.json").write_text(json.dumps(provenance))
    (reports / "latency.json").write_text(json.dumps(latency))


def test_the_stages_records_count_for_the_model_they_measured(tmp_path: Path) -> None:
    write_records(tmp_path, VERSION, VERSION)
    found = timings.runner_timings((1.0, 2.0), tmp_path, VERSION)
    assert found.predict_ms == (1.0, 2.0)
    assert (found.training_seconds, found.explain_ratio) == (61.5, 1.4)


def test_a_record_about_another_model_or_none_is_not_shown(tmp_path: Path) -> None:
    """The bundle came from the DVC cache after those stages last ran here."""
    write_records(tmp_path, "hgb-aaaaaaaaaaaa", VERSION)
    found = timings.runner_timings((None, 2.0), tmp_path, VERSION)
    assert (found.training_seconds, found.explain_ratio) == (None, 1.4)
    nothing = timings.runner_timings((None, None), tmp_path / "none", VERSION)
    assert (nothing.training_seconds, nothing.explain_ratio) == (None, None)


def test_one_record_is_timed_through_the_bundles_estimator(pipeline_run: PipelineRun) -> None:
    bundle = load_bundle(pipeline_run.bundle)
    test = pd.read_parquet(pipeline_run.split / "test.parquet")
    assert timings.predict_one_ms(bundle, test) > 0
    assert timings.branch_predict_ms(pipeline_run.bundle, pipeline_run.split) > 0
    assert timings.branch_predict_ms(pipeline_run.bundle, pipeline_run.workdir / "none") is None
