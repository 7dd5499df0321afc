"""models/bundle/manifest.json: what a bundle holds. Reading it needs no ML library, so the model
card, the PR report and the deploy controller can use it cheaply.

The model version names the model, not the run: `<kind>-<12 hex>`, the start of a sha256 over
the model files' hashes and the contract they serve under (features, threshold, dataset spec,
model config). The same model trained on any machine gets the same version; the commit that
trained it is provenance (reports/provenance.json, and `git log -S <version>`: see the README)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from greenlight.errors import ArtifactError
from greenlight.files import read_json

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
# What makes two bundles the same model. Not `known_answers` (derived from these) nor `training`
# (facts about the fit, such as its validation score).
VERSIONED_FIELDS = ("format", "model", "features", "threshold", "dataset", "artifacts")
VERSION_HEX = 12


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{path}: no manifest; train a model first (`dvc repro train`)")
    manifest = read_json(path)
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ArtifactError(f"{path}: manifest format {manifest.get('format')!r} is not supported")
    return manifest


def content_version(manifest: dict[str, Any]) -> str:
    """`<kind>-<12 hex>` from the manifest's VERSIONED_FIELDS (canonical JSON: key order and
    spacing do not matter)."""
    missing = [name for name in VERSIONED_FIELDS if name not in manifest]
    if missing:
        raise ArtifactError(f"manifest lacks {missing}: cannot derive the model version")
    contract = {name: manifest[name] for name in VERSIONED_FIELDS}
    canonical = json.dumps(contract, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{manifest['model']['kind']}-{digest[:VERSION_HEX]}"
