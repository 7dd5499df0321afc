"""The featurize stage: a seeded, stratified split and a preprocessor fitted on train only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import PipelineRun, sample_params
from greenlight.config import Params
from greenlight.features import to_model_frame, transform
from greenlight.safe_load import load_skops
from greenlight.stages import featurize, validate


def featurized(tmp_path: Path, params: Params) -> Path:
    validate.run(params.dataset, tmp_path / "validated", tmp_path / "reports")
    featurize.run(params, tmp_path / "validated", tmp_path / "split", tmp_path / "pre.skops")
    return tmp_path


def test_split_is_stratified_seeded_and_complete(pipeline_run: PipelineRun) -> None:
    split = {
        n: pd.read_parquet(pipeline_run.split / f"{n}.parquet") for n in ("train", "valid", "test")
    }
    assert len(split["train"]) + len(split["valid"]) == 2000
    assert len(split["valid"]) == 400
    assert len(split["test"]) == 1000
    rates = [(frame["income"] == ">50K").mean() for frame in (split["train"], split["valid"])]
    assert abs(rates[0] - rates[1]) < 0.01
    spec = pipeline_run.params.dataset
    again, _ = featurize.split_off(pd.concat([split["train"], split["valid"]]), spec, 0.2, 42)
    assert len(again) == len(split["train"])


def test_same_seed_same_split_other_seed_other_split(pipeline_run: PipelineRun) -> None:
    frame = pd.read_parquet(pipeline_run.split / "train.parquet")
    spec = pipeline_run.params.dataset
    first, _ = featurize.split_off(frame, spec, 0.25, seed=1)
    second, _ = featurize.split_off(frame, spec, 0.25, seed=1)
    third, _ = featurize.split_off(frame, spec, 0.25, seed=2)
    pd.testing.assert_frame_equal(first, second)
    assert not first.equals(third)


def test_test_split_never_reaches_the_preprocessor_fit(tmp_path: Path, params: Params) -> None:
    """Leakage guard: the fitted preprocessor is the same however wild the test file is."""
    featurized(tmp_path / "a", params)
    test_file = Path(params.dataset.files["test"].path)
    wild = tmp_path / "wild"
    wild.mkdir()
    (wild / "adult.data").write_bytes(Path(params.dataset.files["train"].path).read_bytes())
    lines = test_file.read_text().splitlines()
    shifted = [lines[0]] + [line.replace(", 40, ", ", 99, ") for line in lines[1:]]
    (wild / "adult.test").write_text("\n".join(shifted) + "\n")
    featurized(tmp_path / "b", sample_params(wild))
    a, b = (load_skops(tmp_path / d / "pre.skops") for d in ("a", "b"))
    scaler = "numeric"
    np.testing.assert_array_equal(
        a.named_transformers_[scaler][-1].mean_, b.named_transformers_[scaler][-1].mean_
    )


@pytest.mark.parametrize("use_sensitive", [False, True])
def test_sensitive_columns_are_features_only_when_asked(
    tmp_path: Path, params: Params, use_sensitive: bool
) -> None:
    settings = params.featurize.model_copy(update={"use_sensitive": use_sensitive})
    params = params.model_copy(update={"featurize": settings})
    featurized(tmp_path, params)
    names = list(load_skops(tmp_path / "pre.skops").get_feature_names_out())
    assert any(name.startswith("categorical__sex_") for name in names) is use_sensitive
    assert any(name.startswith("categorical__race_") for name in names) is use_sensitive
    assert not any("income" in name for name in names)


def test_missing_category_is_its_own_level(pipeline_run: PipelineRun) -> None:
    spec = pipeline_run.params.dataset
    features = spec.feature_columns(False)
    frame = pd.read_parquet(pipeline_run.split / "test.parquet")
    missing = frame[frame["workclass"].isna()].head(1)
    preprocessor = load_skops(pipeline_run.workdir / "artifacts" / "preprocessor.skops")
    row = transform(preprocessor, to_model_frame(missing, spec, features))
    names = list(preprocessor.get_feature_names_out())
    assert row[0, names.index("categorical__workclass___missing__")] == 1.0
