"""`greenlight containerize`: build deploy/image/Dockerfile from the staged context (image.py)
with docker or podman, offline (--network none), labelled with what the image carries: model
version, git commit, data hash and the lock's hash. BentoML's own `bentoml containerize` is kept
for the comparison in the image benchmark (image_bench.py); README "The image" says why ours."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from greenlight.gitinfo import git_state
from greenlight.serving.bento import LOCK, PackagingError
from greenlight.serving.image import CONTEXT, WHEELHOUSE, stage_context

DOCKERFILE = Path("deploy/image/Dockerfile")
DVC_LOCK = Path("dvc.lock")
DATA_PATH = "data"  # the raw data's DVC path: its directory hash is the data hash


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


def build_arguments(manifest: dict[str, Any], base_image: str | None) -> dict[str, str]:
    """The Dockerfile's ARGs: what the image's labels say it carries."""
    state = git_state()
    commit = state.commit + ("-dirty" if state.dirty and state.commit != "unknown" else "")
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    arguments = {
        "MODEL_VERSION": str(manifest["model_version"]),
        "GIT_COMMIT": commit,
        "DATA_HASH": data_hash(),
        "LOCK_HASH": f"sha256:{file_sha256(LOCK)}",
        "SOURCE": f"{server}/{repository}" if repository else "unknown",
        "CREATED": commit_time(),
    }
    if base_image:
        arguments["BASE_IMAGE"] = base_image
    return arguments


def commit_time() -> str:
    """HEAD's commit time (ISO 8601): the same commit labels the same `created`."""
    done = subprocess.run(
        ["git", "log", "-1", "--format=%cI"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


def build_command(engine: str, image: str, arguments: dict[str, str], context: Path) -> list[str]:
    flags = [
        part for name, value in arguments.items() for part in ("--build-arg", f"{name}={value}")
    ]
    return [
        engine,
        "build",
        "--network",
        "none",
        "--file",
        str(DOCKERFILE.resolve()),
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
    return build(engine, image, CONTEXT, build_arguments(manifest, base_image))


def build(engine: str, image: str, context: Path, arguments: dict[str, str]) -> str:
    """`engine build` of a staged context, with no network; returns the image ID."""
    command = build_command(engine, image, arguments, context)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackagingError(f"{engine} build failed:\n{result.stdout[-4000:]}{result.stderr}")
    return image_id(engine, image)


def image_id(engine: str, image: str) -> str:
    done = subprocess.run(
        [engine, "image", "inspect", "--format", "{{.Id}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise PackagingError(f"{engine} image inspect {image} failed: {done.stderr.strip()}")
    return done.stdout.strip()
