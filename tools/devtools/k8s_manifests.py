"""Validate the Kubernetes manifests (deploy/k8s) against the real API schemas that
kubernetes-validate bundles, offline and strictly (unknown fields are errors), for the oldest and
the newest Kubernetes versions we support. The pre-commit hook (`make lint`) runs:

    python -m tools.devtools.k8s_manifests deploy/k8s/*.yaml   (kustomization.yaml excluded)"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

# 1.30: the oldest with the preStop `sleep` action on by default; 1.37: the newest bundled.
VERSIONS = ("1.30.0", "1.37.0")


def documents(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(path.read_text()):
        if document is not None:
            yield document


def problems(path: Path, versions: Sequence[str] = VERSIONS) -> list[str]:
    """One line per document and version that does not validate; empty when all do."""
    import kubernetes_validate  # noqa: PLC0415 - a dev tool, only `make lint` needs it

    found = []
    for document in documents(path):
        name = f"{document.get('kind')}/{document.get('metadata', {}).get('name')}"
        for version in versions:
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except (
                kubernetes_validate.ValidationError,
                kubernetes_validate.SchemaNotFoundError,
            ) as error:
                found.append(f"{path}: {name} (Kubernetes {version}): {error.message}")
    return found


def main(paths: Sequence[str]) -> int:
    found = [line for path in paths for line in problems(Path(path))]
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
