"""Fitted models behind one small interface, so stages and the service never care which model it
is. Inference only: loading a saved model and predicting with it. Fitting and saving live in
greenlight.training, which only the train stage imports."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Estimator(Protocol):
    kind: str
    device: str

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probability of the positive class, one value per row."""
        ...

    def predict_logit(self, x: np.ndarray) -> np.ndarray:
        """The same output in log-odds (what explanations add up to), one value per row."""
        ...


def load_estimator(kind: str, path: Path, config: dict[str, Any]) -> Estimator:
    """Rebuild a saved estimator; call it only on a file whose hash was checked (artifacts.py)."""
    if kind == "mlp":
        from greenlight.models.mlp import TorchMLP  # noqa: PLC0415 (torch only when asked for)

        return TorchMLP.load(path, config)
    if kind in ("hgb", "logreg"):
        from greenlight.models.sklearn import SklearnEstimator  # noqa: PLC0415

        return SklearnEstimator.load(path, kind)
    raise ValueError(f"unknown model kind {kind!r}: expected hgb, logreg or mlp")
