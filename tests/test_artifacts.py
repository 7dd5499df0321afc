"""The model bundle: hash-checked, pickle-free, refusing anything altered or untrusted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from conftest import PipelineRun
from greenlight.artifacts import load_bundle
from greenlight.errors import ArtifactError
from greenlight.safe_load import load_skops


def test_bundle_predicts_like_the_manifest_says(pipeline_run: PipelineRun) -> None:
    bundle = load_bundle(pipeline_run.bundle)
    answers = bundle.manifest["known_answers"]
    records = pd.DataFrame([answer["record"] for answer in answers])
    expected = [answer["probability"] for answer in answers]
    np.testing.assert_allclose(bundle.predict_proba(records), expected, rtol=1e-9)
    assert "sex" not in bundle.features
    assert "income" not in records.columns
    assert bundle.version == bundle.manifest["model_version"]


def test_manifest_lists_sha256_of_every_file(pipeline_run: PipelineRun) -> None:
    manifest = json.loads((pipeline_run.bundle / "manifest.json").read_text())
    files = {entry["file"] for entry in manifest["artifacts"].values()}
    assert files == {"preprocessor.skops", "estimator.skops"}
    assert all(len(entry["sha256"]) == 64 for entry in manifest["artifacts"].values())


@pytest.mark.parametrize("name", ["estimator.skops", "preprocessor.skops"])
def test_tampered_file_is_refused_by_name(bundle_copy: Path, name: str) -> None:
    with (bundle_copy / name).open("ab") as stream:
        stream.write(b"\0")
    with pytest.raises(ArtifactError, match=rf"{name}: sha256 .* does not match the manifest"):
        load_bundle(bundle_copy)


def test_missing_file_and_manifest_are_clear_errors(bundle_copy: Path) -> None:
    (bundle_copy / "estimator.skops").unlink()
    with pytest.raises(ArtifactError, match=r"estimator\.skops: model file is missing"):
        load_bundle(bundle_copy)
    (bundle_copy / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="no manifest"):
        load_bundle(bundle_copy)


def test_unknown_manifest_format_is_refused(bundle_copy: Path) -> None:
    path = bundle_copy / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"format": 99}))
    with pytest.raises(ArtifactError, match=r"manifest format 99 is not supported"):
        load_bundle(bundle_copy)


def transform_with_code(values: np.ndarray) -> np.ndarray:
    return values


def test_skops_file_with_untrusted_types_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.skops"
    sio.dump(FunctionTransformer(transform_with_code), path)
    with pytest.raises(ArtifactError, match=r"refusing untrusted types .*transform_with_code"):
        load_skops(path)


def test_a_file_that_is_not_skops_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fake.skops"
    path.write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match=r"not a valid skops file"):
        load_skops(path)
