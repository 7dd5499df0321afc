"""The committed model's test-split figures stay inside the published bands for UCI Adult: the
floor catches a broken model, the ceiling catches leakage (test data reaching the fit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenlight.config import load_params

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params.yaml")
BANDS = {
    "hgb": (0.870, 0.885, 0.925),
    "logreg": (0.840, 0.885, 0.890),
    "mlp": (0.850, 0.885, 0.900),
}


@pytest.mark.skipif(PARAMS.dataset.name != "adult", reason="bands are for the UCI Adult example")
def test_committed_metrics_are_inside_the_published_bands() -> None:
    metrics = json.loads((ROOT / "reports" / "metrics.json").read_text())
    low, high, min_auc = BANDS[PARAMS.train.model]
    assert low <= metrics["accuracy"] <= high, metrics
    assert metrics["roc_auc"] >= min_auc, metrics
    assert metrics["n_test"] == 16281  # the standard adult.test split, every record
