"""The model bundle: preprocessor + estimator + manifest.json (sha256 of each file, model version,
dataset contract, known-answer records). Serving and deployment load models only through here.
Every file is written deterministically (skops_file.py), so the same model is the same bytes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from greenlight.features import to_model_frame, transform
from greenlight.files import sha256_file, write_json
from greenlight.manifest import MANIFEST, MANIFEST_FORMAT, content_version, read_manifest
from greenlight.models import Estimator, load_estimator
from greenlight.paths import BUNDLE
from greenlight.safe_load import load_skops, verify_sha256
from greenlight.spec import DatasetSpec


@dataclass(frozen=True)
class Bundle:
    manifest: dict[str, Any]
    preprocessor: Any
    estimator: Estimator

    @cached_property
    def spec(self) -> DatasetSpec:
        return DatasetSpec.model_validate(self.manifest["dataset"])

    @cached_property
    def features(self) -> list[str]:
        return list(self.manifest["features"])

    @property
    def version(self) -> str:
        return str(self.manifest["model_version"])

    @property
    def threshold(self) -> float:
        return float(self.manifest["threshold"])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Positive-class probability for raw records (columns as in the dataset spec)."""
        model_frame = to_model_frame(frame, self.spec, self.features)
        return self.estimator.predict_proba(transform(self.preprocessor, model_frame))


def save_bundle(
    directory: Path, preprocessor_file: Path, save_estimator: Callable[[Path], Path], manifest: dict
) -> dict[str, Any]:
    """Write a bundle into the new, empty `directory` (train stages it in a temporary folder that
    replaces models/bundle whole) and return its manifest, model version included.
    `save_estimator` writes the fitted weights into a folder (a training.Trainer's save)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "preprocessor": shutil.copyfile(preprocessor_file, directory / "preprocessor.skops"),
        "estimator": save_estimator(directory),
    }
    hashes = {name: _describe_file(Path(path)) for name, path in files.items()}
    full = {"format": MANIFEST_FORMAT, **manifest, "artifacts": hashes}
    full["model_version"] = content_version(full)
    write_json(directory / MANIFEST, full)
    return full


def load_bundle(directory: Path = BUNDLE) -> Bundle:
    """Load a bundle, checking every file's sha256 first; raise ArtifactError on any mismatch."""
    manifest = read_manifest(directory)
    for entry in manifest["artifacts"].values():
        verify_sha256(directory / entry["file"], entry["sha256"])
    model = manifest["model"]
    estimator_file = directory / manifest["artifacts"]["estimator"]["file"]
    estimator = load_estimator(model["kind"], estimator_file, model["config"])
    preprocessor = load_skops(directory / manifest["artifacts"]["preprocessor"]["file"])
    return Bundle(manifest=manifest, preprocessor=preprocessor, estimator=estimator)


def _describe_file(path: Path) -> dict[str, Any]:
    return {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}
