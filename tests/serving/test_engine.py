"""The service's work without HTTP: load, prove, predict several requests in one call, log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from serving_support import input_records

from conftest import PipelineRun
from greenlight.artifacts import load_bundle
from greenlight.errors import ArtifactError, ConfigError
from greenlight.serving.engine import Engine
from greenlight.serving.settings import ServingSettings


def settings_for(bundle: Path, log: Path) -> ServingSettings:
    return ServingSettings(bundle=bundle, prediction_log=log, log_flush_seconds=60)


def test_requests_predicted_together_get_their_own_answers_and_log_lines(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    log = tmp_path / "predictions.jsonl"
    engine = Engine.start(settings_for(pipeline_run.bundle, log))
    rows = input_records(pipeline_run.split, 10)
    requests = [(rows[:3], "a" * 32), (rows[3:4], "b" * 32), (rows[4:], "c" * 32)]
    responses = engine.predict_many(requests)
    engine.close()
    expected = load_bundle(pipeline_run.bundle).predict_proba(pd.DataFrame(rows))
    served = [p.probability for response in responses for p in response.predictions]
    np.testing.assert_allclose(served, expected, rtol=1e-12)
    assert [len(response.predictions) for response in responses] == [3, 1, 6]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["request_id"][0] for line in lines] == list("aaabcccccc")
    assert [line["prediction"]["probability"] for line in lines] == served


def test_a_tampered_bundle_does_not_start(bundle_copy: Path, tmp_path: Path) -> None:
    with (bundle_copy / "estimator.skops").open("ab") as stream:
        stream.write(b"\0")
    with pytest.raises(ArtifactError, match=r"estimator\.skops"):
        Engine.start(settings_for(bundle_copy, tmp_path / "p.jsonl"))


def test_an_unwritable_log_does_not_start(pipeline_run: PipelineRun, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a directory")
    with pytest.raises(ConfigError, match="prediction log"):
        Engine.start(settings_for(pipeline_run.bundle, tmp_path / "taken" / "p.jsonl"))


def test_with_the_log_off_it_answers_and_writes_no_log(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    log = tmp_path / "predictions.jsonl"
    settings = settings_for(pipeline_run.bundle, log).model_copy(update={"log_predictions": False})
    engine = Engine.start(settings)
    rows = input_records(pipeline_run.split, 3)
    response = engine.predict(rows, "a" * 32)
    engine.close()
    assert len(response.predictions) == 3
    assert engine.log.problem is None
    assert not log.exists() and not tmp_path.joinpath("predictions.jsonl.lock").exists()
