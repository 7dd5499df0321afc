"""Estimators behind one small interface, so stages and the service never care which model it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from greenlight.config import TrainParams


class Estimator(Protocol):
    kind: str
    device: str

    def fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> None: ...

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probability of the positive class, one value per row."""
        ...

    def predict_logit(self, x: np.ndarray) -> np.ndarray:
        """The same output in log-odds (what explanations add up to), one value per row."""
        ...

    def save(self, directory: Path) -> Path:
        """Write the weights into `directory` in a non-pickle format; return the file written."""
        ...

    def config(self) -> dict[str, Any]:
        """What a loader needs besides the weights file (architecture, sizes)."""
        ...


def build_estimator(params: TrainParams) -> Estimator:
    """A fresh, unfitted estimator for `params.model`."""
    if params.model == "mlp":
        from greenlight.models.mlp import TorchMLP  # noqa: PLC0415 (torch only when asked for)

        return TorchMLP(params.mlp, seed=params.seed, device=params.device)
    from greenlight.models.sklearn import SklearnEstimator  # noqa: PLC0415

    return SklearnEstimator.create(params)


def load_estimator(kind: str, path: Path, config: dict[str, Any]) -> Estimator:
    """Rebuild a saved estimator; call it only on a file whose hash was checked (artifacts.py)."""
    if kind == "mlp":
        from greenlight.models.mlp import TorchMLP  # noqa: PLC0415

        return TorchMLP.load(path, config)
    if kind in ("hgb", "logreg"):
        from greenlight.models.sklearn import SklearnEstimator  # noqa: PLC0415

        return SklearnEstimator.load(path, kind)
    raise ValueError(f"unknown model kind {kind!r}: expected hgb, logreg or mlp")
