"""Validate the Kubernetes manifests (deploy/k8s) against the real API schemas that
kubernetes-validate bundles, offline and strictly (unknown fields are errors), for the oldest and
the newest Kubernetes versions we support. Gateway API routes, which kubernetes-validate has no
schema for, are checked against the HTTPRoute schema vendored in schemas/ (its header says which
release), strictly too. The pre-commit hook (`make lint`) runs:

    python -m tools.devtools.k8s_manifests deploy/k8s/*.yaml   (kustomization.yaml excluded)"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

SCHEMAS = Path(__file__).parent / "schemas"
# kinds kubernetes-validate does not know: (apiVersion, kind) -> our vendored JSON schema
VENDORED = {("gateway.networking.k8s.io/v1", "HTTPRoute"): SCHEMAS / "httproute-v1.yaml"}
# 1.30: the oldest with the preStop `sleep` action on by default; 1.37: the newest bundled.
VERSIONS = ("1.30.0", "1.37.0")


def documents(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(path.read_text()):
        if document is not None:
            yield document


def problems(path: Path, versions: Sequence[str] = VERSIONS) -> list[str]:
    """One line per document and version that does not validate; empty when all do."""
    found = []
    for document in documents(path):
        name = f"{document.get('kind')}/{document.get('metadata', {}).get('name')}"
        schema = VENDORED.get((document.get("apiVersion"), document.get("kind")))
        if schema is not None:
            found += [
                f"{path}: {name} ({schema.name}): {line}" for line in vendored(document, schema)
            ]
            continue
        found += [f"{path}: {name} {line}" for line in kubernetes(document, versions)]
    return found


def kubernetes(document: dict[str, Any], versions: Sequence[str]) -> Iterator[str]:
    import kubernetes_validate  # noqa: PLC0415 - a dev tool, only `make lint` needs it

    for version in versions:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except (
            kubernetes_validate.ValidationError,
            kubernetes_validate.SchemaNotFoundError,
        ) as error:
            yield f"(Kubernetes {version}): {error.message}"


def vendored(document: dict[str, Any], schema: Path) -> Iterator[str]:
    """Each error of `document` against a vendored schema, at its path, e.g. `spec.rules.2...`."""
    import jsonschema  # noqa: PLC0415 - installed with kubernetes-validate

    validator = jsonschema.Draft202012Validator(strict(yaml.safe_load(schema.read_text())))
    for error in sorted(validator.iter_errors(document), key=lambda error: list(error.path)):
        where = ".".join(str(part) for part in error.absolute_path) or "(document)"
        yield f"{where}: {error.message}"


def strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` wherever it lists properties and says
    nothing else: unknown fields are errors, as kubernetes-validate's strict mode makes them."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tightened = {key: strict(value) for key, value in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema:
        tightened["additionalProperties"] = False
    return tightened


def main(paths: Sequence[str]) -> int:
    found = [line for path in paths for line in problems(Path(path))]
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
