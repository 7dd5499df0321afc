"""The artifact stand-ins' one script: `upload`, `download`, `attest` (see the action.yml files).

Artifacts of a run live in $REHEARSAL_ARTIFACTS/<GITHUB_RUN_ID>/<name>/, so a new run id never
sees old ones, as on GitHub. Inputs arrive as INPUT_* variables; outputs go to $GITHUB_OUTPUT."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sys
import zlib
from pathlib import Path


def _store() -> Path:
    return Path(os.environ["REHEARSAL_ARTIFACTS"]) / os.environ["GITHUB_RUN_ID"]


def _output(**values: str) -> None:
    with Path(os.environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as out:
        for key, value in values.items():
            out.write(f"{key}={value}\n")


def _matched(patterns: list[str]) -> list[Path]:
    files: set[Path] = set()
    for pattern in patterns:
        for hit in glob.glob(pattern, recursive=True):  # noqa: PTH207 (upload-artifact's patterns)
            path = Path(hit)
            if path.is_dir():
                files.update(inner for inner in path.rglob("*") if inner.is_file())
            elif path.is_file():
                files.add(path)
    return sorted(files)


def upload() -> int:
    name = os.environ["INPUT_NAME"]
    patterns = [line.strip() for line in os.environ["INPUT_PATH"].splitlines() if line.strip()]
    files = [path.resolve() for path in _matched(patterns)]
    if not files:
        message = f"No files were found with the provided path: {' '.join(patterns)}."
        level = os.environ.get("INPUT_IF_NO_FILES_FOUND", "warn")
        print(f"::{'error' if level == 'error' else 'warning'}::{message}")
        return 1 if level == "error" else 0
    root = Path(os.path.commonpath([str(path.parent) for path in files]))
    target = _store() / name
    if target.exists():
        print(
            f"::error::an artifact named {name} already exists in run {os.environ['GITHUB_RUN_ID']}"
        )
        return 1
    for path in files:
        destination = target / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    artifact_id = str(zlib.crc32(f"{os.environ['GITHUB_RUN_ID']}/{name}".encode()))
    (target.parent / f"{name}.id").write_text(artifact_id)
    _output(**{"artifact-id": artifact_id, "artifact-url": f"file://{target}"})
    print(f"uploaded {len(files)} files as artifact {name} (id {artifact_id}) from {root}")
    return 0


def download() -> int:
    name = os.environ["INPUT_NAME"]
    source = _store() / name
    if not name or not source.is_dir():
        print(f"::error::Unable to download artifact(s): Artifact not found for name: {name}")
        return 1
    target = Path(os.environ.get("INPUT_PATH") or ".").resolve()
    shutil.copytree(source, target, dirs_exist_ok=True)
    _output(**{"download-path": str(target)})
    count = sum(1 for path in source.rglob("*") if path.is_file())
    print(f"downloaded artifact {name} ({count} files) to {target}")
    return 0


def attest() -> int:
    digest = os.environ.get("INPUT_SUBJECT_DIGEST", "")
    if not digest.startswith("sha256:"):
        print(f"::error::subject-digest must be sha256:<hex>, not {digest!r}")
        return 1
    record = {
        "subject": {"name": os.environ.get("INPUT_SUBJECT_NAME", ""), "digest": digest},
        "push_to_registry": os.environ.get("INPUT_PUSH_TO_REGISTRY", "false"),
        "repository": os.environ.get("GITHUB_REPOSITORY"),
        "sha": os.environ.get("GITHUB_SHA"),
        "workflow_ref": os.environ.get("GITHUB_WORKFLOW_REF", ""),
        "signed": False,
    }
    sbom = os.environ.get("INPUT_SBOM_PATH", "")
    if sbom and not Path(sbom).is_file():  # attest-sbom's stand-in: the SBOM must be there
        print(f"::error::sbom-path {sbom!r} is not a file")
        return 1
    if sbom:
        record["sbom"] = {
            "path": sbom,
            "sha256": hashlib.sha256(Path(sbom).read_bytes()).hexdigest(),
        }
    kind = "sbom-attestation" if sbom else "attestation"
    path = _store() / f"{kind}-{digest.split(':', 1)[1][:16]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2))
    _output(**{"bundle-path": str(path)})
    print(f"recorded the attestation request in {path} (stand-in: nothing is signed)")
    return 0


if __name__ == "__main__":
    commands = {"upload": upload, "download": download, "attest": attest}
    sys.exit(commands[sys.argv[1]]())
