"""Fitting scikit-learn estimators (HistGradientBoosting, LogisticRegression), saved with skops."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from greenlight.config import TrainParams
from greenlight.models.sklearn import FILE_NAME, SklearnEstimator
from greenlight.skops_file import dump_skops


class SklearnTrainer:
    device = "cpu"
    accelerator = None

    def __init__(self, params: TrainParams) -> None:
        self.kind = params.model
        if params.model == "hgb":
            self.model = HistGradientBoostingClassifier(
                **params.hgb.model_dump(), random_state=params.seed
            )
        else:
            self.model = LogisticRegression(**params.logreg.model_dump(), random_state=params.seed)

    def fit(
        self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
    ) -> SklearnEstimator:
        if self.kind == "hgb" and self.model.early_stopping:
            # Early stopping on our validation split, not on a random slice of the train split.
            self.model.fit(x, y, X_val=x_val, y_val=y_val)
        else:
            self.model.fit(x, y)
        return SklearnEstimator(self.kind, self.model)

    def save(self, directory: Path) -> Path:
        return dump_skops(_without_thread_count(self.model), directory / FILE_NAME)

    def config(self) -> dict[str, Any]:
        fitted = {"n_iter": int(self.model.n_iter_)} if self.kind == "hgb" else {}
        return {"estimator": type(self.model).__name__, **fitted}


def _without_thread_count(model: Any) -> Any:
    """HistGradientBoosting's bin mapper keeps the OpenMP thread count of the machine that fitted
    it; the trees do not depend on it. Saved as None ("all threads", its default), the file is
    the same on a 2-core laptop and a 16-core runner."""
    mapper = getattr(model, "_bin_mapper", None)
    if mapper is None:
        return model
    saved = copy.copy(model)  # shallow copies: the fitted model in memory stays as it is
    saved._bin_mapper = copy.copy(mapper)
    saved._bin_mapper.n_threads = None
    return saved
