"""Every model kind learns, saves to a non-pickle format and loads back to the same answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from greenlight.config import MlpParams, TrainParams
from greenlight.models import build_estimator, load_estimator
from greenlight.models.mlp import TorchMLP, resolve_device


def separable(seed: int = 0, rows: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.3, size=rows) > 0).astype(np.int64)
    return x, y


def small(kind: str) -> TrainParams:
    mlp = MlpParams(hidden=(16,), epochs=15, batch_size=64, lr=0.01)
    return TrainParams(model=kind, mlp=mlp, device="cpu")


@pytest.mark.parametrize("kind", ["hgb", "logreg", "mlp"])
def test_each_kind_learns_and_round_trips(kind: str, tmp_path: Path) -> None:
    (x, y), (x_val, y_val) = separable(0), separable(1)
    estimator = build_estimator(small(kind))
    estimator.fit(x, y, x_val, y_val)
    probability = estimator.predict_proba(x_val)
    assert probability.shape == (len(x_val),)
    assert ((probability >= 0.5) == y_val).mean() > 0.85
    path = estimator.save(tmp_path)
    assert path.suffix in {".skops", ".safetensors"}
    loaded = load_estimator(kind, path, estimator.config())
    np.testing.assert_allclose(loaded.predict_proba(x_val), probability, rtol=1e-6)


def test_mlp_is_deterministic_on_cpu() -> None:
    (x, y), (x_val, y_val) = separable(0), separable(1)
    runs = []
    for _ in range(2):
        model = TorchMLP(small("mlp").mlp, seed=7, device="cpu")
        model.fit(x, y, x_val, y_val)
        runs.append(model.predict_proba(x_val))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model kind 'xgb'"):
        load_estimator("xgb", tmp_path / "x", {})


def test_asking_for_cuda_without_it_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="no CUDA device is available"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mlp_trains_on_cuda_and_loads_anywhere(tmp_path: Path) -> None:
    (x, y), (x_val, y_val) = separable(0), separable(1)
    model = TorchMLP(small("mlp").mlp, seed=7, device="cuda")
    model.fit(x, y, x_val, y_val)
    assert next(model.network.parameters()).is_cuda
    cpu_probability = TorchMLP.load(model.save(tmp_path), model.config()).predict_proba(x_val)
    np.testing.assert_allclose(cpu_probability, model.predict_proba(x_val), atol=1e-5)
