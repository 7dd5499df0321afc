"""A fitted scikit-learn estimator (HistGradientBoosting, LogisticRegression), loaded from skops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from greenlight.safe_load import load_skops

FILE_NAME = "estimator.skops"


class SklearnEstimator:
    device = "cpu"

    def __init__(self, kind: str, model: Any) -> None:
        self.kind = kind
        self.model = model  # explanations read the trees or coefficients directly

    @classmethod
    def load(cls, path: Path, kind: str) -> SklearnEstimator:
        return cls(kind, load_skops(path))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(x)[:, 1]

    def predict_logit(self, x: np.ndarray) -> np.ndarray:
        # Both kinds' decision_function is the positive class's log-odds (binary target).
        return np.asarray(self.model.decision_function(x), dtype=np.float64)
