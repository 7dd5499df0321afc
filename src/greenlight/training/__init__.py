"""Fitting models: one trainer per kind, which only the train stage imports. A trainer fits on
the train split (early stopping on valid), hands back the fitted greenlight.models estimator
that everything else uses, and saves it in a non-pickle format."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from greenlight.config import TrainParams
from greenlight.models import Estimator


class Trainer(Protocol):
    kind: str
    device: str
    accelerator: str | None  # the GPU's name when the fit runs on CUDA: provenance, the card

    def fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> Estimator:
        """Fit on (x, y), stop early on (x_val, y_val); the fitted estimator."""
        ...

    def save(self, directory: Path) -> Path:
        """Write the fitted weights into `directory` in a non-pickle format; the file written."""
        ...

    def config(self) -> dict[str, Any]:
        """What greenlight.models.load_estimator needs besides the weights (architecture, sizes)."""
        ...


def build_trainer(params: TrainParams) -> Trainer:
    """A trainer for `params.model`, nothing fitted yet."""
    if params.model == "mlp":
        from greenlight.training.mlp import MLPTrainer  # noqa: PLC0415 (torch only when asked for)

        return MLPTrainer(params.mlp, seed=params.seed, device=params.device)
    from greenlight.training.sklearn import SklearnTrainer  # noqa: PLC0415

    return SklearnTrainer(params)
