"""Stage 3: fit the model chosen by `train.model` and write the bundle (preprocessor, estimator,
manifest with hashes, provenance and known-answer records) to models/bundle/."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sklearn.metrics import roc_auc_score

from greenlight.artifacts import load_bundle, save_bundle
from greenlight.config import Params
from greenlight.features import target_vector, to_model_frame, transform
from greenlight.files import read_json, read_parquet, sha256_file, write_json
from greenlight.gitinfo import git_state
from greenlight.models import Estimator, build_estimator
from greenlight.paths import BUNDLE, PREPROCESSOR, SPLIT
from greenlight.safe_load import load_skops


def model_version(estimator_sha256: str) -> str:
    """The git commit of the training run; a dirty tree adds the weights' hash to stay unique."""
    state = git_state()
    return f"{state.short}-dirty-{estimator_sha256[:8]}" if state.dirty else state.short


def fit(params: Params, split_dir: Path, preprocessor: Any) -> tuple[Estimator, dict[str, Any]]:
    """Fit on the train split (early stopping on valid) and time it."""
    spec, features = params.dataset, params.dataset.feature_columns(params.featurize.use_sensitive)
    matrices = {}
    for name in ("train", "valid"):
        frame = read_parquet(split_dir / f"{name}.parquet")
        x = transform(preprocessor, to_model_frame(frame, spec, features))
        matrices[name] = (x, target_vector(frame, spec))
    estimator = build_estimator(params.train)
    started = time.perf_counter()
    estimator.fit(*matrices["train"], *matrices["valid"])
    seconds = time.perf_counter() - started
    valid_auc = roc_auc_score(matrices["valid"][1], estimator.predict_proba(matrices["valid"][0]))
    return estimator, {"seconds": round(seconds, 3), "valid_roc_auc": round(float(valid_auc), 6)}


def base_manifest(params: Params, estimator: Estimator, training: dict[str, Any]) -> dict:
    state = git_state()
    return {
        "model_version": None,  # filled in once the weights' hash is known
        "model": {"kind": estimator.kind, "config": estimator.config(),
                  "params": getattr(params.train, params.train.model).model_dump(mode="json")},
        "features": params.dataset.feature_columns(params.featurize.use_sensitive),
        "threshold": params.evaluate.threshold,
        "dataset": params.dataset.model_dump(mode="json"),
        "training": {**training, "device": estimator.device, "git_commit": state.commit,
                     "git_dirty": state.dirty, "finished_at": datetime.now(UTC).isoformat()},
    }  # fmt: skip


def known_answers(bundle_dir: Path, split_dir: Path, count: int) -> list[dict[str, Any]]:
    """Validation records and the probabilities the saved bundle gives them: the deploy smoke test
    sends these to a new version and expects the same answers."""
    bundle = load_bundle(bundle_dir)
    records = read_parquet(split_dir / "valid.parquet").head(count)
    records = records[bundle.spec.input_columns()]
    probabilities = bundle.predict_proba(records)
    rows = records.astype(object).where(records.notna(), None).to_dict("records")
    return [
        {"record": row, "probability": float(p)} for row, p in zip(rows, probabilities, strict=True)
    ]


def run(
    params: Params, split_dir: Path = SPLIT, preprocessor_path: Path = PREPROCESSOR,
    bundle_dir: Path = BUNDLE,
) -> dict[str, Any]:  # fmt: skip
    estimator, training = fit(params, split_dir, load_skops(preprocessor_path))
    manifest = base_manifest(params, estimator, training)
    manifest_path = save_bundle(bundle_dir, preprocessor_path, estimator, manifest)
    manifest = _finish_manifest(manifest_path, bundle_dir, split_dir, params.train.known_answers)
    return {"model_version": manifest["model_version"], **manifest["training"]}


def _finish_manifest(path: Path, bundle_dir: Path, split_dir: Path, count: int) -> dict:
    manifest = read_json(path)
    estimator_file = bundle_dir / manifest["artifacts"]["estimator"]["file"]
    manifest["model_version"] = model_version(sha256_file(estimator_file))
    manifest["known_answers"] = known_answers(bundle_dir, split_dir, count)
    write_json(path, manifest)
    return manifest
