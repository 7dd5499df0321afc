"""models/bundle/manifest.json: what a bundle holds. Reading it needs no ML library, so the model
card, the PR report and the deploy controller can use it cheaply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from greenlight.errors import ArtifactError
from greenlight.files import read_json

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{path}: no manifest; train a model first (`dvc repro train`)")
    manifest = read_json(path)
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ArtifactError(f"{path}: manifest format {manifest.get('format')!r} is not supported")
    return manifest
