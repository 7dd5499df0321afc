"""The fast encoder equals the fitted preprocessor, or is not used; the predictor proves the model
on its known answers before serving."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from serving_support import input_records
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from conftest import PipelineRun
from greenlight.artifacts import Bundle, load_bundle
from greenlight.errors import ArtifactError
from greenlight.features import to_model_frame, transform
from greenlight.known_answers import DEFAULT_TOLERANCE
from greenlight.serving import predictor as predictor_module
from greenlight.serving.encoder import (
    NumericBlock,
    RowEncoder,
    compile_encoder,
    matches_preprocessor,
    probe_rows,
)
from greenlight.serving.predictor import Predictor, check_known_answers


@pytest.fixture(scope="module")
def bundle(pipeline_run: PipelineRun) -> Bundle:
    return load_bundle(pipeline_run.bundle)


def expected_matrix(bundle: Bundle, rows: list[dict]) -> np.ndarray:
    frame = to_model_frame(pd.DataFrame(rows), bundle.spec, bundle.features)
    return transform(bundle.preprocessor, frame)


def test_encoder_reproduces_the_preprocessor_on_real_records(
    bundle: Bundle, pipeline_run: PipelineRun
) -> None:
    rows = input_records(pipeline_run.split, 500)
    assert any(value is None for row in rows for value in row.values())  # missing values covered
    encoder = compile_encoder(bundle.preprocessor)
    assert encoder is not None
    np.testing.assert_array_equal(encoder.encode(rows), expected_matrix(bundle, rows))
    assert encoder.encode(rows[:1]).dtype == np.float32


def test_probe_rows_cover_every_level_and_missing_value(bundle: Bundle) -> None:
    rows = probe_rows(bundle.spec, bundle.features)
    for name in bundle.spec.categorical(bundle.features):
        column = bundle.spec.columns[name]
        seen = {row[name] for row in rows}
        assert set(column.values) <= seen
        assert (None in seen) == column.nullable
    assert {row["age"] for row in rows} >= {16, 100}


def test_an_encoder_with_other_statistics_is_caught(bundle: Bundle) -> None:
    encoder = compile_encoder(bundle.preprocessor)
    assert encoder is not None
    assert matches_preprocessor(encoder, bundle.preprocessor, bundle.spec, bundle.features)
    numeric = encoder.blocks[0]
    assert isinstance(numeric, NumericBlock)
    shifted = dataclasses.replace(numeric, mean=numeric.mean + 0.01)
    wrong = RowEncoder((shifted, *encoder.blocks[1:]))
    assert not matches_preprocessor(wrong, bundle.preprocessor, bundle.spec, bundle.features)


@pytest.mark.parametrize(
    "preprocessor",
    [
        ColumnTransformer([("numbers", FunctionTransformer(), ["age"])]),
        ColumnTransformer([("categories", OneHotEncoder(drop="first"), ["workclass"])]),
        ColumnTransformer(
            [("categories", OneHotEncoder(), ["workclass"])], remainder="passthrough"
        ),
        FunctionTransformer(),
    ],
)
def test_unknown_layouts_get_no_fast_encoder(preprocessor: object) -> None:
    frame = pd.DataFrame({"age": [30, 40], "workclass": ["Private", "State-gov"]})
    preprocessor.fit(frame)
    assert compile_encoder(preprocessor) is None


def test_predictor_falls_back_to_the_preprocessor_when_they_differ(
    bundle: Bundle, pipeline_run: PipelineRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(predictor_module, "matches_preprocessor", lambda *_: False)
    predictor = Predictor.for_bundle(bundle)
    assert predictor.encoder is None
    rows = input_records(pipeline_run.split, 50)
    np.testing.assert_allclose(
        predictor.probabilities(rows), bundle.predict_proba(pd.DataFrame(rows)), rtol=1e-12
    )


def test_fast_and_reference_paths_give_the_same_probabilities(
    bundle: Bundle, pipeline_run: PipelineRun
) -> None:
    rows = input_records(pipeline_run.split, 300)
    fast = Predictor.for_bundle(bundle)
    assert fast.encoder is not None
    np.testing.assert_allclose(
        fast.probabilities(rows), bundle.predict_proba(pd.DataFrame(rows)), rtol=1e-12
    )
    assert fast.probabilities(rows[:1]).shape == (1,)


def test_labels_follow_the_bundle_threshold(bundle: Bundle) -> None:
    predictor = Predictor.for_bundle(bundle)
    target = bundle.spec.target
    at, below = bundle.threshold, bundle.threshold - 1e-9
    assert predictor.labels([at, below, 1.0, 0.0]) == [
        target.positive,
        target.negative,
        target.positive,
        target.negative,
    ]


def test_known_answers_are_reproduced(bundle: Bundle) -> None:
    assert check_known_answers(Predictor.for_bundle(bundle), DEFAULT_TOLERANCE) == len(
        bundle.manifest["known_answers"]
    )


def test_a_wrong_known_answer_names_the_record(bundle_copy: Path) -> None:
    manifest_path = bundle_copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["known_answers"][2]["probability"] += 0.01
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"known answer 2: probability .* differs"):
        check_known_answers(Predictor.for_bundle(load_bundle(bundle_copy)), DEFAULT_TOLERANCE)


def test_a_bundle_without_known_answers_cannot_warm_up(bundle_copy: Path) -> None:
    manifest_path = bundle_copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["known_answers"] = []
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="no known_answers"):
        check_known_answers(Predictor.for_bundle(load_bundle(bundle_copy)), DEFAULT_TOLERANCE)
