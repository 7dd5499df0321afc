"""`greenlight bento` and `greenlight containerize`: package the service and the model bundle as a
BentoML bento tagged with the model version, and build its OCI image where a container engine
exists. The build runs from a staged directory holding only what the bento needs (bentofile.yaml
explains the layout)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from subprocess import CompletedProcess

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import greenlight
from greenlight.errors import GreenlightError, InfrastructureError
from greenlight.manifest import read_manifest
from greenlight.paths import BUNDLE
from greenlight.safe_load import verify_sha256

BENTO_NAME = "greenlight-service"  # bentofile.yaml: name
BENTOFILE = Path("bentofile.yaml")
LOCK = Path("requirements.lock")
STAGING = Path("build/bento")
# What the service imports; their dependencies are added from the installed metadata.
SERVING_ROOTS = (
    "bentoml",
    "numpy",
    "pandas",
    "pydantic",
    "pyyaml",
    "scikit-learn",
    "skops",
    "typer",
)
TORCH_ROOTS = ("safetensors", "torch")
ENGINES = ("docker", "podman")
INSTALLER_PACKAGES = frozenset({"pip", "setuptools", "wheel"})


class PackagingError(GreenlightError, RuntimeError):
    """The bento or its image could not be built; the message says why and what to do."""


class BuildToolError(PackagingError, InfrastructureError):
    """No container engine answers, or a build tool or the engine ran and failed (its output
    in the message): the inputs passed their checks, what builds them did not work."""


def bento_version(model_version: str) -> str:
    """The model version as a BentoML tag version: lowercase, [a-z0-9._-], at most 63 chars."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", model_version.lower()).strip("-._")[:63].strip("-._")
    if not cleaned:
        raise PackagingError(f"model version {model_version!r} leaves nothing usable as a tag")
    return cleaned


def dependency_closure(roots: Iterable[str]) -> set[str]:
    """Canonical names of `roots` and everything they require (installed metadata, no extras),
    except the installer's own packages, which every Python image has and no lock file pins."""
    pending, seen = [canonicalize_name(root) for root in roots], set()
    while pending:
        name = pending.pop()
        if name in seen or name in INSTALLER_PACKAGES:
            continue
        seen.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonicalize_name(requirement.name))
    return seen


def pinned_requirements(lock_text: str, names: set[str]) -> list[str]:
    """The lock file's pins for `names`, in lock order; PackagingError if one is not pinned."""
    pins = {}
    for line in lock_text.splitlines():
        if "==" in line and not line.startswith("#"):
            pins[canonicalize_name(line.split("==")[0].strip())] = line.strip()
    missing = sorted(names - set(pins))
    if missing:
        raise PackagingError(f"{LOCK} pins none of {missing}: run `make lock`")
    return [pin for name, pin in pins.items() if name in names]


def serving_requirements(model_kind: str, lock: Path = LOCK) -> list[str]:
    roots = SERVING_ROOTS + (TORCH_ROOTS if model_kind == "mlp" else ())
    return pinned_requirements(lock.read_text(), dependency_closure(roots))


def stage(bundle: Path, staging: Path = STAGING, bentofile: Path = BENTOFILE) -> str:
    """Fill `staging` with the package, the hash-checked bundle, the pins and the bentofile;
    return the bento version."""
    manifest = read_manifest(bundle)
    for entry in manifest["artifacts"].values():
        verify_sha256(bundle / entry["file"], entry["sha256"])
    if staging.exists():
        shutil.rmtree(staging)
    package = Path(greenlight.__file__).parent
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(package, staging / "greenlight", ignore=ignore)
    shutil.copytree(bundle, staging / BUNDLE, ignore=ignore)
    requirements = serving_requirements(manifest["model"]["kind"])
    (staging / "requirements.txt").write_text("\n".join(requirements) + "\n")
    shutil.copyfile(bentofile, staging / "bentofile.yaml")
    return bento_version(str(manifest["model_version"]))


def _bentoml(*arguments: str, environment: dict[str, str] | None = None) -> CompletedProcess:
    command = [sys.executable, "-m", "bentoml", *arguments]
    environment = {**os.environ, **(environment or {}), "BENTOML_DO_NOT_TRACK": "True"}
    return subprocess.run(command, env=environment, capture_output=True, text=True, check=False)


def build(bundle: Path, staging: Path = STAGING) -> str:
    """Stage, then `bentoml build`, replacing a bento of the same model version (the service
    code may have changed); returns the tag greenlight-service:<model version>."""
    version = stage(bundle, staging)
    tag = f"{BENTO_NAME}:{version}"
    if _bentoml("get", tag).returncode == 0:
        _check(_bentoml("delete", "--yes", tag), "bentoml delete")
    bentofile = str(staging / "bentofile.yaml")
    # The service module reads the bundle's manifest when bentoml imports it.
    environment = {"GREENLIGHT_BUNDLE": str((staging / BUNDLE).resolve())}
    result = _bentoml(
        "build",
        str(staging),
        "-f",
        bentofile,
        "--version",
        version,
        "--output",
        "tag",
        environment=environment,
    )
    _check(result, "bentoml build")
    return tag


def _check(result: CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        raise BuildToolError(f"{what} failed:\n{result.stdout}{result.stderr}")


NO_ENGINE = (
    "no container engine to build the image with ({problems}). Install and start Docker "
    "(https://docs.docker.com/engine/install/) or Podman (https://podman.io/docs/installation) "
    "and run `make containerize` again (ENGINE=podman to pick Podman). Without an image, the "
    "bento built by `make bento` serves as is: `bentoml serve {tag}`; or move it to a machine "
    "with an engine: `bentoml export {tag} greenlight.bento`, there `bentoml import "
    "greenlight.bento && bentoml containerize {tag}`."
)


def find_engine(tag: str, preferred: str | None = None) -> str:
    """The first container engine that answers `<engine> info`; PackagingError saying why none
    does and what to do."""
    if preferred is not None and preferred not in ENGINES:
        raise PackagingError(f"engine {preferred!r} is not one of {', '.join(ENGINES)}")
    problems = []
    for engine in (preferred,) if preferred else ENGINES:
        problem = engine_problem(engine)
        if problem is None:
            return engine
        problems.append(f"{engine}: {problem}")
    raise BuildToolError(NO_ENGINE.format(problems="; ".join(problems), tag=tag))


def engine_problem(engine: str) -> str | None:
    """Why `engine` cannot build images here, or None when it can."""
    if shutil.which(engine) is None:
        return "not installed"
    try:
        probe = subprocess.run(
            [engine, "info"], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return "`info` did not answer within 30 s"
    if probe.returncode == 0:
        return None
    reason = (probe.stderr.strip().splitlines() or ["`info` failed"])[-1]
    return f"not usable: {reason}"


def containerize(tag: str, engine: str, image_tag: str | None = None) -> str:
    """`bentoml containerize` the bento with `engine`; returns the image tag (default: the
    bento's own tag; the deploy workflow passes ghcr.io/<owner>/<repo>:<commit>)."""
    image = image_tag or tag
    _check(_bentoml("containerize", tag, "--backend", engine, "--image-tag", image), "containerize")
    return image
