"""`greenlight containerize`: build deploy/image/Dockerfile from the staged context (image.py)
with docker or podman, offline (--network none), labelled with what the image carries: model
version, git commit, data hash and the lock's hash. BentoML's own `bentoml containerize` is kept
for the comparison in the image benchmark (image_bench.py); README "The image" says why ours."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from greenlight.gitinfo import git_state
from greenlight.serving.bento import LOCK, BuildToolError, PackagingError
from greenlight.serving.image import CONTEXT, WHEELHOUSE, stage_context

DOCKERFILE = Path("deploy/image/Dockerfile")
DVC_LOCK = Path("dvc.lock")
DATA_PATH = "data"  # the raw data's DVC path: its directory hash is the data hash
BASE_ARG = "ARG BASE_IMAGE="


@dataclass(frozen=True)
class BuildInputs:
    """What a build is given besides its context: build arguments and the image's labels."""

    arguments: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def build_inputs(manifest: dict[str, Any], base_image: str | None) -> BuildInputs:
    return BuildInputs(build_arguments(base_image), image_labels(manifest, base_image))


def data_hash(dvc_lock: Path = DVC_LOCK) -> str:
    """The raw data's hash as dvc.lock records it (a stage's dependency on `data`)."""
    if not dvc_lock.is_file():
        return "unknown"
    stages = (yaml.safe_load(dvc_lock.read_text()) or {}).get("stages", {})
    for stage in stages.values():
        for dependency in stage.get("deps", []):
            if dependency.get("path") == DATA_PATH:
                return str(dependency.get("md5", "unknown"))
    return "unknown"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "unknown"


def image_labels(manifest: dict[str, Any], base_image: str | None) -> dict[str, str]:
    """The OCI and greenlight labels: what the image carries (labelled_dockerfile)."""
    state = git_state()
    commit = state.commit + ("-dirty" if state.dirty and state.commit != "unknown" else "")
    version = str(manifest["model_version"])
    return {
        **oci_labels(version, commit, base_image),
        "dev.greenlight.model.version": version,
        "dev.greenlight.git.commit": commit,
        "dev.greenlight.data.hash": data_hash(),
        "dev.greenlight.lock.hash": f"sha256:{file_sha256(LOCK)}",
    }


def oci_labels(version: str, commit: str, base_image: str | None) -> dict[str, str]:
    """The standard annotations (github.com/opencontainers/image-spec, annotations.md)."""
    return {
        "org.opencontainers.image.title": "greenlight-service",
        "org.opencontainers.image.description": "greenlight model service (BentoML) with its "
        "model bundle",
        "org.opencontainers.image.source": source_url(),
        "org.opencontainers.image.revision": commit,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.created": commit_time(),
        "org.opencontainers.image.base.name": base_image or default_base_image(),
    }


def source_url() -> str:
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    return f"{server}/{repository}" if repository else "unknown"


def default_base_image(dockerfile: Path = DOCKERFILE) -> str:
    """The Dockerfile's own default base (its `ARG BASE_IMAGE=` line), the one source of it."""
    for line in dockerfile.read_text().splitlines():
        if line.startswith(BASE_ARG):
            return line.removeprefix(BASE_ARG).strip()
    raise PackagingError(f"{dockerfile} has no `{BASE_ARG}<image>` line")


def build_arguments(base_image: str | None) -> dict[str, str]:
    """The Dockerfile's one ARG: the base image, when it is not the Dockerfile's default."""
    return {"BASE_IMAGE": base_image} if base_image else {}


def commit_time() -> str:
    """HEAD's commit time (ISO 8601): the same commit labels the same `created`."""
    done = subprocess.run(
        ["git", "log", "-1", "--format=%cI"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


def labelled_dockerfile(labels: dict[str, str], dockerfile: Path = DOCKERFILE) -> str:
    """deploy/image/Dockerfile with the labels appended as ONE `LABEL` instruction. Not ARG lines
    with a LABEL, nor `--label` flags: the classic builder makes each ARG, LABEL and `--label`
    a step of its own, and each step a copy of the whole file system under vfs (measured: eleven
    `--label` flags, eleven steps of about a minute), whose cache every new commit misses."""
    pairs = " ".join(
        f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in labels.items()
    )
    return f"{dockerfile.read_text().rstrip()}\nLABEL {pairs}\n"


def build_command(
    engine: str, image: str, arguments: dict[str, str], dockerfile: Path, context: Path
) -> list[str]:
    flags = [
        part for name, value in arguments.items() for part in ("--build-arg", f"{name}={value}")
    ]
    return [
        engine,
        "build",
        "--network",
        "none",
        "--file",
        str(dockerfile.resolve()),
        *flags,
        "--tag",
        image,
        str(context),
    ]


def containerize(
    bundle: Path,
    engine: str,
    image: str,
    base_image: str | None = None,
    wheelhouse: Path = WHEELHOUSE,
) -> str:
    """Stage the context, build the image offline; returns its ID (sha256:...)."""
    manifest = stage_context(bundle, CONTEXT, wheelhouse)
    return build(engine, image, CONTEXT, build_inputs(manifest, base_image))


def build(engine: str, image: str, context: Path, inputs: BuildInputs) -> str:
    """`engine build` of a staged context, with no network; returns the image ID. The labelled
    Dockerfile is written into the context, which no COPY line takes."""
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(labelled_dockerfile(inputs.labels))
    command = build_command(engine, image, inputs.arguments, dockerfile, context)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildToolError(f"{engine} build failed:\n{result.stdout[-4000:]}{result.stderr}")
    return image_id(engine, image)


def image_id(engine: str, image: str) -> str:
    done = subprocess.run(
        [engine, "image", "inspect", "--format", "{{.Id}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BuildToolError(f"{engine} image inspect {image} failed: {done.stderr.strip()}")
    return done.stdout.strip()
