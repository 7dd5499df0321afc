"""Fitting the torch MLP: CUDA when present, CPU otherwise, deterministic on either; early stopping
on the validation split. Weights saved as safetensors."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from greenlight.config import MlpParams
from greenlight.models.mlp import FILE_NAME, TorchMLP, as_tensor, build_network, resolve_device


class MLPTrainer:
    kind = "mlp"

    def __init__(self, params: MlpParams, seed: int = 42, device: str = "auto") -> None:
        self.params = params
        self.seed = seed
        self.device = resolve_device(device)
        self.accelerator = torch.cuda.get_device_name() if self.device == "cuda" else None
        self.network: nn.Sequential | None = None
        self.n_features = 0

    def fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> TorchMLP:
        _seed_everything(self.seed, self.device)
        self.n_features = x.shape[1]
        self.network = build_network(self.n_features, self.params.hidden, self.params.dropout)
        self.network.to(self.device)
        best = _train_with_early_stopping(self.network, self.params, (x, y), (x_val, y_val))
        self.network.load_state_dict(best)
        return TorchMLP(self.network, self.device)

    def save(self, directory: Path) -> Path:
        if self.network is None:
            raise RuntimeError("save called before fit")
        path = directory / FILE_NAME
        state = {
            name: tensor.detach().cpu().contiguous()
            for name, tensor in self.network.state_dict().items()
        }
        save_file(state, path)
        return path

    def config(self) -> dict[str, Any]:
        hidden = list(self.params.hidden)
        return {"n_features": self.n_features, "hidden": hidden, "dropout": self.params.dropout}


def _seed_everything(seed: int, device: str) -> None:
    """Bit-for-bit repeatable on one kind of device: the same weights, hence the same model
    version, run after run (CPU and GPU kernels differ, so the two give different bytes)."""
    torch.manual_seed(seed)
    if device == "cuda":
        # cuBLAS is deterministic only with a fixed workspace, set before its first call
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)


def _train_with_early_stopping(
    network: nn.Module, params: MlpParams, train: tuple, valid: tuple
) -> dict[str, torch.Tensor]:
    """Train epoch by epoch; keep the weights of the epoch with the lowest validation loss."""
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=params.lr, weight_decay=params.weight_decay
    )
    device = next(network.parameters()).device.type
    x, y = (as_tensor(array, device) for array in train)
    x_val, y_val = (as_tensor(array, device) for array in valid)
    best_loss, best_state, stale = float("inf"), copy.deepcopy(network.state_dict()), 0
    for _ in range(params.epochs):
        _one_epoch(network, optimiser, x, y, params.batch_size)
        loss = _loss(network, x_val, y_val)
        if loss < best_loss - 1e-5:
            best_loss, best_state, stale = loss, copy.deepcopy(network.state_dict()), 0
        else:
            stale += 1
        if stale >= params.patience:
            break
    return best_state


def _one_epoch(
    network: nn.Module, optimiser: Any, x: torch.Tensor, y: torch.Tensor, batch: int
) -> None:
    network.train()
    order = torch.randperm(len(x), device=x.device)
    criterion = nn.BCEWithLogitsLoss()
    for start in range(0, len(x), batch):
        rows = order[start : start + batch]
        optimiser.zero_grad(set_to_none=True)
        criterion(network(x[rows]).squeeze(1), y[rows]).backward()
        optimiser.step()
    network.eval()


def _loss(network: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.inference_mode():
        return float(nn.functional.binary_cross_entropy_with_logits(network(x).squeeze(1), y))
