"""A small torch MLP for tabular data, for inference: CUDA when present, CPU otherwise. Weights
travel as safetensors; the architecture lives in the manifest (greenlight.training.mlp fits it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from greenlight.errors import ArtifactError

FILE_NAME = "estimator.safetensors"


def resolve_device(requested: str) -> str:
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but no CUDA device is available")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def build_network(n_features: int, hidden: tuple[int, ...], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def as_tensor(array: np.ndarray, device: str) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float32), device=device)


class TorchMLP:
    kind = "mlp"

    def __init__(self, network: nn.Sequential, device: str) -> None:
        self.device = device
        self.network = network.to(device).eval()

    @classmethod
    def load(cls, path: Path, config: dict[str, Any]) -> TorchMLP:
        hidden, dropout = tuple(config["hidden"]), float(config["dropout"])
        network = build_network(int(config["n_features"]), hidden, dropout)
        try:  # safetensors holds tensors only: loading it can fail, but never runs code
            network.load_state_dict(load_file(path))
        except (RuntimeError, OSError) as error:
            raise ArtifactError(
                f"{path}: weights do not fit the manifest's network: {error}"
            ) from error
        return cls(network, resolve_device("auto"))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return torch.sigmoid(self._logits(x)).cpu().numpy().astype(np.float64)

    def predict_logit(self, x: np.ndarray) -> np.ndarray:
        return self._logits(x).cpu().numpy().astype(np.float64)

    def _logits(self, x: np.ndarray) -> torch.Tensor:
        with torch.inference_mode():
            return self.network(as_tensor(x, self.device)).squeeze(1)
