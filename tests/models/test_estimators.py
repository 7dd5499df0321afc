"""Every model kind learns, saves to a non-pickle format and loads back to the same answers; the
inference side (greenlight.models) never needs the training side (greenlight.training)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from greenlight.config import MlpParams, TrainParams
from greenlight.models import load_estimator
from greenlight.models.mlp import TorchMLP, resolve_device
from greenlight.training import build_trainer
from greenlight.training.mlp import MLPTrainer


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
    trainer = build_trainer(small(kind))
    assert trainer.accelerator is None  # small() fits on the CPU
    estimator = trainer.fit(x, y, x_val, y_val)
    probability = estimator.predict_proba(x_val)
    assert probability.shape == (len(x_val),)
    assert ((probability >= 0.5) == y_val).mean() > 0.85
    path = trainer.save(tmp_path)
    assert path.suffix in {".skops", ".safetensors"}
    loaded = load_estimator(kind, path, trainer.config())
    # float32 kernels on a many-core CPU are not bit-exact between two copies of the same weights
    # (a 16-core GPU host: 2e-6 relative at p = 1e-4), so the same answers mean float32's precision
    np.testing.assert_allclose(loaded.predict_proba(x_val), probability, rtol=1e-5, atol=1e-7)
    logit = estimator.predict_logit(x_val)
    np.testing.assert_allclose(loaded.predict_logit(x_val), logit, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
            ],
        ),
    ],
)
def test_mlp_trains_to_the_same_bytes_twice(device: str, tmp_path: Path) -> None:
    """The same inputs give the same weights file on one kind of device, so the same version."""
    (x, y), (x_val, y_val) = separable(0), separable(1)
    files = []
    for run in ("first", "second"):
        trainer = MLPTrainer(small("mlp").mlp, seed=7, device=device)
        trainer.fit(x, y, x_val, y_val)
        (tmp_path / run).mkdir()
        files.append(trainer.save(tmp_path / run).read_bytes())
    assert files[0] == files[1]


def test_loading_and_predicting_imports_no_training_code(tmp_path: Path) -> None:
    """What serving and monitoring load: the inference module alone, no trainer, no optimiser."""
    (x, y), (x_val, y_val) = separable(0), separable(1)
    trainer = build_trainer(small("hgb"))
    trainer.fit(x, y, x_val, y_val)
    path = trainer.save(tmp_path)
    script = (
        "import sys; from pathlib import Path; from greenlight.models import load_estimator; "
        f"load_estimator('hgb', Path({str(path)!r}), {{}}); "
        "print(sorted(m for m in sys.modules if m.startswith('greenlight.training') "
        "or m == 'greenlight.config'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


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
    trainer = MLPTrainer(small("mlp").mlp, seed=7, device="cuda")
    model = trainer.fit(x, y, x_val, y_val)
    assert next(model.network.parameters()).is_cuda
    assert trainer.accelerator  # the GPU's name, for provenance and the card
    cpu_probability = TorchMLP.load(trainer.save(tmp_path), trainer.config()).predict_proba(x_val)
    np.testing.assert_allclose(cpu_probability, model.predict_proba(x_val), atol=1e-5)
