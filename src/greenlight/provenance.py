"""reports/provenance.json: the record of the run that trained the bundle in this workspace: the
commit it ran from, when, where, on what device and for how long. Everything that differs from
one run of the same inputs to the next lives here and nowhere else, which is why this file is not
a DVC output (dvc.lock would change on every run) and is git-ignored: the bundle, the reports and
the model card are the same bytes on every machine."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from greenlight.files import read_json, write_json
from greenlight.gitinfo import git_state
from greenlight.paths import PROVENANCE

# The packages whose versions the outputs depend on (all pinned in requirements.lock).
PACKAGES = (
    "scikit-learn",
    "torch",
    "pandas",
    "numpy",
    "pyarrow",
    "pandera",
    "fairlearn",
    "skops",
    "safetensors",
    "matplotlib",
    "dvc",
    "bentoml",
    "shap",
)


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None  # optional for this model: recorded as absent, not guessed
    return versions


def data_pointer(pointer: Path = Path("data.dvc")) -> dict[str, Any]:
    """The data folder as data.dvc names it (path and md5), or nulls where there is none."""
    out = yaml.safe_load(pointer.read_text())["outs"][0] if pointer.is_file() else {}
    return {"path": out.get("path"), "md5": out.get("md5")}


def run_record(model_version: str, training: dict[str, Any]) -> dict[str, Any]:
    """`training`: started_at, finished_at (ISO 8601 UTC), seconds and device of the fit."""
    state = git_state()
    return {
        "model_version": model_version,
        "git": {"commit": state.commit, "dirty": state.dirty},
        "training": training,
        "host": host(),
        "packages": package_versions(),
        "data": {"data.dvc": data_pointer()},
    }


def device_label(training: Mapping[str, Any]) -> str:
    """`cuda (NVIDIA H200)`, `cpu`: the fit's device and, on a GPU, which one."""
    device, accelerator = training.get("device"), training.get("accelerator")
    return f"{device} ({accelerator})" if accelerator else str(device)


def host() -> dict[str, Any]:
    return {
        "name": platform.node(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


def write_record(record: dict[str, Any], path: Path = PROVENANCE) -> Path:
    return write_json(path, record)


def read_record(path: Path = PROVENANCE) -> dict[str, Any] | None:
    """The last training run's record, or None where no training ran in this workspace (the
    bundle came from the DVC cache or the run-cache, e.g. in CI)."""
    return read_json(path) if path.is_file() else None
