"""Stage 3: fit the model chosen by `train.model` and write the bundle (preprocessor, estimator,
manifest with hashes, content-derived model version and known-answer records) to models/bundle/,
plus the training run's record, reports/provenance.json (commit, times, host: not in the bundle,
which holds nothing that differs between two runs of the same inputs)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from greenlight import provenance
from greenlight.artifacts import load_bundle, save_bundle
from greenlight.config import Params
from greenlight.features import target_vector, to_model_frame, transform
from greenlight.files import atomic_directory, read_parquet, write_json
from greenlight.manifest import MANIFEST
from greenlight.models import Estimator
from greenlight.paths import BUNDLE, PREPROCESSOR, PROVENANCE, SPLIT
from greenlight.safe_load import load_skops
from greenlight.training import Trainer, build_trainer


def encoded_splits(params: Params, split_dir: Path, preprocessor: Any) -> dict[str, tuple]:
    """(x, y) of the train and valid splits, through the fitted preprocessor."""
    spec, features = params.dataset, params.dataset.feature_columns(params.featurize.use_sensitive)
    matrices = {}
    for name in ("train", "valid"):
        frame = read_parquet(split_dir / f"{name}.parquet")
        x = transform(preprocessor, to_model_frame(frame, spec, features))
        matrices[name] = (x, target_vector(frame, spec))
    return matrices


def fit(params: Params, matrices: dict[str, tuple]) -> tuple[Trainer, dict[str, Any]]:
    """Fit on the train split (early stopping on valid); the trainer, which saves the fitted
    model, and the fit's validation score and timing."""
    trainer = build_trainer(params.train)
    estimator, timing = timed_fit(trainer, matrices["train"], matrices["valid"])
    valid_auc = roc_auc_score(matrices["valid"][1], estimator.predict_proba(matrices["valid"][0]))
    return trainer, {"valid_roc_auc": round(float(valid_auc), 6), "timing": timing}


def timed_fit(trainer: Trainer, train: tuple, valid: tuple) -> tuple[Estimator, dict[str, Any]]:
    """Fit, and when and how long it took: provenance, never part of the bundle."""
    started, clock = datetime.now(UTC), time.perf_counter()
    estimator = trainer.fit(*train, *valid)
    return estimator, {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "seconds": round(time.perf_counter() - clock, 3),
        "device": trainer.device,
        "accelerator": trainer.accelerator,
    }


def explain_reference(x_train: np.ndarray) -> list[float]:
    """The mean encoded training record (numbers' means, each category level's share): the point
    linear and model-agnostic explanations measure contributions from. An aggregate over the
    whole split, so the bundle carries no individual record for it."""
    return [float(value) for value in np.asarray(x_train, dtype=np.float64).mean(axis=0)]


def base_manifest(params: Params, trainer: Trainer, valid_roc_auc: float) -> dict:
    """What the bundle says about itself: only facts that two runs of the same inputs share."""
    model_params = getattr(params.train, params.train.model).model_dump(mode="json")
    return {
        "model_version": None,  # derived from the files and the contract once they are written
        "model": {"kind": trainer.kind, "config": trainer.config(), "params": model_params},
        "features": params.dataset.feature_columns(params.featurize.use_sensitive),
        "threshold": params.evaluate.threshold,
        "dataset": params.dataset.model_dump(mode="json"),
        "training": {"device": trainer.device, "valid_roc_auc": valid_roc_auc},
    }


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
    params: Params,
    split_dir: Path = SPLIT,
    preprocessor_path: Path = PREPROCESSOR,
    bundle_dir: Path = BUNDLE,
    record_path: Path = PROVENANCE,
) -> dict[str, Any]:
    matrices = encoded_splits(params, split_dir, load_skops(preprocessor_path))
    trainer, fitted = fit(params, matrices)
    manifest = base_manifest(params, trainer, fitted["valid_roc_auc"])
    manifest["explain_reference"] = explain_reference(matrices["train"][0])
    with atomic_directory(bundle_dir) as staging:
        manifest = save_bundle(staging, preprocessor_path, trainer.save, manifest)
        manifest["known_answers"] = known_answers(staging, split_dir, params.train.known_answers)
        write_json(staging / MANIFEST, manifest)
    record = provenance.run_record(manifest["model_version"], fitted["timing"])
    provenance.write_record(record, record_path)
    return {"model_version": manifest["model_version"], **record["training"]}


def main(params: Params) -> dict[str, Any]:
    return run(params)
