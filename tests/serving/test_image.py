"""The serving image (deploy/image/Dockerfile): its inputs are checked without an engine; with
the private engine (.ci/services.sh) it is built offline, or reused by the digest of everything
that goes into it, and run the way production runs it: read-only root, no capabilities, no new
privileges, an unprivileged user, the prediction-log volume the one writable path."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from image_support import (
    BASE_IMAGE,
    BUNDLE_IN_IMAGE,
    DOCKER_HOST,
    LOG_DIR,
    UID,
    docker,
    engine_problem,
    log_directory,
    remove_other_tags,
    running,
    wait_for_log,
    wait_ready,
)

from conftest import PipelineRun, working_directory
from greenlight.errors import ExitCode
from greenlight.localnet import free_port
from greenlight.serving import image, image_build, image_sbom
from greenlight.serving.bento import BuildToolError, PackagingError

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / image_build.DOCKERFILE


def test_the_image_lock_pins_the_serving_closure_of_requirements_lock() -> None:
    lock = ROOT / "requirements.lock"
    image.check_image_lock("hgb", lock, ROOT / image.IMAGE_LOCK)  # make image-lock if this fails
    text = (ROOT / image.IMAGE_LOCK).read_text()
    pins = image.locked_versions(text)
    assert "scikit-learn" in pins and "bentoml" in pins
    assert not {"torch", "dvc", "pytest", "pip", "setuptools"} & set(pins)
    blocks = [block for block in text.split("\n") if block and not block.startswith((" ", "#"))]
    assert len(blocks) == len(pins)  # one requirement per pin, each followed by its hashes
    assert all(block.endswith("\\") for block in blocks)
    assert text.count("--hash=sha256:") >= len(pins)


def test_an_image_lock_that_drifted_from_the_lock_names_the_pins(tmp_path: Path) -> None:
    stale = tmp_path / "requirements.txt"
    stale.write_text(
        (ROOT / image.IMAGE_LOCK).read_text().replace("scikit-learn==", "scikit-learn==0.0.0+")
    )
    with pytest.raises(PackagingError, match=r"disagree on \[.*scikit-learn==.*make image-lock"):
        image.check_image_lock("hgb", ROOT / "requirements.lock", stale)


def test_a_torch_bundle_is_refused_with_the_reason() -> None:
    with pytest.raises(PackagingError, match="mlp bundle needs torch"):
        image.check_image_lock("mlp", ROOT / "requirements.lock", ROOT / image.IMAGE_LOCK)


def test_a_wheelhouse_missing_a_pin_is_refused(tmp_path: Path) -> None:
    (tmp_path / "numpy-0.0.1-cp311-cp311-manylinux_2_17_x86_64.whl").write_bytes(b"")
    with pytest.raises(PackagingError, match=r"no wheel for \[.*'numpy'.*make wheelhouse"):
        image.locked_wheels(tmp_path, ROOT / image.IMAGE_LOCK)


def test_the_app_holds_what_serving_imports_and_no_training_code() -> None:
    package = ROOT / "src" / "greenlight"
    files = {path.as_posix() for path in image.service_files(package)}
    assert {"serving/service.py", "serving/engine.py", "artifacts.py", "spec.py"} <= files
    assert "__init__.py" in files and "models/__init__.py" in files
    tooling = ("stages/", "report/", "deploy/", "monitor/")
    assert not [name for name in files if name.startswith(tooling)]
    assert "settings.py" not in files  # the tools' loader: a serving process reads its environment
    assert not {"cli.py", "explain.py", "plots.py", "monitor/__init__.py"} & files


def test_relative_and_function_level_imports_are_followed(tmp_path: Path) -> None:
    (tmp_path / "serving").mkdir()
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "serving" / "__init__.py").write_text("")
    (tmp_path / "serving" / "a.py").write_text(
        "from . import b\ndef f():\n    import greenlight.c\n"
    )
    (tmp_path / "serving" / "b.py").write_text("from ..d import name\n")
    (tmp_path / "c.py").write_text("")
    (tmp_path / "d.py").write_text("name = 1\n")
    (tmp_path / "unused.py").write_text("")
    found = {path.as_posix() for path in image.service_files(tmp_path, "greenlight.serving.a")}
    assert found == {
        "__init__.py",
        "serving/__init__.py",
        "serving/a.py",
        "serving/b.py",
        "c.py",
        "d.py",
    }


def test_the_build_is_offline_and_labelled() -> None:
    inputs = image_build.build_inputs({"model_version": "v1"}, "base:1")
    command = image_build.build_command("docker", "x:1", inputs.arguments, DOCKERFILE, Path("c"))
    assert command[command.index("--network") + 1] == "none"
    assert command[command.index("--build-arg") + 1] == "BASE_IMAGE=base:1"
    lines = DOCKERFILE.read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    for forbidden in ("apt-get", "build-essential", "git ", "curl", "pip install -r"):
        assert forbidden not in text
    assert "--require-hashes" in text and "--no-index" in text
    assert "USER ${UID}:${UID}" in text and f"ARG UID={UID}" in text
    assert "/readyz" in text and f'VOLUME ["{LOG_DIR}"]' in text


def test_the_default_base_is_read_from_the_dockerfile(tmp_path: Path) -> None:
    inputs = image_build.build_inputs({"model_version": "v1"}, None)
    assert inputs.arguments == {}  # the Dockerfile's own default base, pinned by digest
    assert image_build.default_base_image().startswith("python:3.11")
    assert "@sha256:" in image_build.default_base_image()
    assert inputs.labels["org.opencontainers.image.base.name"] == image_build.default_base_image()
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(PackagingError, match="ARG BASE_IMAGE="):
        image_build.default_base_image(tmp_path / "Dockerfile")


def test_the_labels_are_one_instruction_after_everything_the_cache_keeps() -> None:
    labels = {"dev.greenlight.model.version": "v1", "q": 'say "hi" \\ there'}
    text = image_build.labelled_dockerfile(labels)
    assert text.startswith(DOCKERFILE.read_text().rstrip())
    (label,) = [line for line in text.splitlines() if line.startswith("LABEL")]
    assert text.rstrip().endswith(label)
    assert label == 'LABEL dev.greenlight.model.version="v1" q="say \\"hi\\" \\\\ there"'


def test_an_engine_that_fails_to_build_is_unavailable_infrastructure(tmp_path: Path) -> None:
    with pytest.raises(BuildToolError, match="false build failed") as failed:
        image_build.build("false", "x:1", tmp_path, image_build.BuildInputs())
    assert failed.value.exit_code == ExitCode.INFRASTRUCTURE
    assert (tmp_path / "Dockerfile").read_text().startswith(DOCKERFILE.read_text().rstrip())


def test_the_data_hash_is_dvc_lock_s(tmp_path: Path) -> None:
    lock = tmp_path / "dvc.lock"
    lock.write_text(
        "schema: '2.0'\nstages:\n  validate:\n    deps:\n    - path: data\n      md5: abc.dir\n"
    )
    assert image_build.data_hash(lock) == "abc.dir"
    assert image_build.data_hash(tmp_path / "none.lock") == "unknown"


# --- the built image, run ------------------------------------------------------------------


@pytest.fixture(scope="session")
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The image of the sample bundle: built offline, or reused when an image of the same digest
    (context, Dockerfile, base image) is in the engine. Its tag and the bundle's manifest."""
    problem = engine_problem()
    if problem:
        pytest.skip(problem)
    wheelhouse = ROOT / image.WHEELHOUSE
    try:
        image.locked_wheels(wheelhouse, ROOT / image.IMAGE_LOCK)
    except PackagingError as missing:
        pytest.skip(f"{missing} (needs the package index once)")
    pipeline_run: PipelineRun = request.getfixturevalue("pipeline_run")  # only when it can run
    context = tmp_path_factory.mktemp("image") / "context"
    with working_directory(ROOT):  # the image lock's relative path
        manifest = image.stage_context(pipeline_run.bundle, context, wheelhouse)
    base_id = docker("image", "inspect", "--format", "{{.Id}}", BASE_IMAGE).stdout.strip()
    digest = image.context_digest(context, DOCKERFILE.read_text(), base_id)
    tag = f"greenlight-image-test:{digest[:20]}"
    if docker("image", "inspect", tag).returncode != 0:
        inputs = image_build.build_inputs(manifest, BASE_IMAGE)
        with pytest.MonkeyPatch.context() as patch:  # the build talks to the private engine too
            patch.setenv("DOCKER_HOST", DOCKER_HOST)
            image_build.build(shutil.which("docker") or "docker", tag, context, inputs)
        remove_other_tags(tag)
    return {"tag": tag, "manifest": manifest}


@pytest.fixture(scope="session")
def served(built: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """One container of the image, run as production runs it (image_support.RUN_FLAGS: read-only
    root, all capabilities dropped, no new privileges), ready: each container costs a copy of the
    image's file system under vfs, so the tests that only look share it. (container, log dir)"""
    logs = log_directory(tmp_path_factory.mktemp("served") / "logs")
    with running(built["tag"], free_port(), logs) as container:
        assert wait_ready(container), container.logs()
        yield container, logs


@pytest.mark.slow
def test_the_container_serves_the_known_answers_unprivileged_and_read_only(
    built: dict, served: tuple
) -> None:
    container, logs = served
    answers = built["manifest"]["known_answers"]
    body = {"records": [answer["record"] for answer in answers]}
    answered = httpx.post(f"{container.url}/predict", json=body, timeout=30).json()
    uid = container.exec("id", "-u").stdout.strip()
    status = container.exec("cat", "/proc/1/status").stdout
    outside = container.exec("python", "-c", "open('/app/x', 'w')")
    etc = container.exec("python", "-c", "open('/etc/x', 'w')")
    inside = container.exec("python", "-c", f"open('{LOG_DIR}/probe', 'w')")
    assert answered["model_version"] == built["manifest"]["model_version"]
    probabilities = [item["probability"] for item in answered["predictions"]]
    assert probabilities == pytest.approx([answer["probability"] for answer in answers], abs=1e-9)
    assert uid == str(UID)
    assert f"Uid:\t{UID}\t{UID}\t{UID}\t{UID}" in status  # PID 1, the server, is not root
    assert "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status
    for refused in (outside, etc):
        assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    assert inside.returncode == 0, inside.stderr
    assert (logs / "predictions.jsonl").is_file()


@pytest.mark.slow
def test_a_tampered_bundle_mounted_in_place_is_refused(
    built: dict, bundle_copy: Path, tmp_path: Path
) -> None:
    with (bundle_copy / "estimator.skops").open("ab") as stream:
        stream.write(b"\0")
    bundle_copy.chmod(0o755)
    for path in bundle_copy.iterdir():
        path.chmod(0o644)
    logs = log_directory(tmp_path / "logs")
    with running(built["tag"], free_port(), logs, f"{bundle_copy}:{BUNDLE_IN_IMAGE}:ro") as served:
        refused = wait_for_log(served, "NOT READY")
        readyz = httpx.get(f"{served.url}/readyz", timeout=5).status_code if refused else None
        log_text = served.logs()
    assert refused, log_text
    assert "estimator.skops" in log_text and "sha256" in log_text.lower()
    assert readyz == 503


@pytest.mark.slow
def test_the_image_says_what_it_carries_and_carries_nothing_else(
    built: dict, served: tuple
) -> None:
    inspected = docker("image", "inspect", "--format", "{{json .Config}}", built["tag"])
    config = json.loads(inspected.stdout)
    labels = config["Labels"]
    lock_hash = hashlib.sha256((ROOT / "requirements.lock").read_bytes()).hexdigest()
    assert labels["dev.greenlight.model.version"] == built["manifest"]["model_version"]
    assert labels["org.opencontainers.image.version"] == built["manifest"]["model_version"]
    assert labels["dev.greenlight.lock.hash"] == f"sha256:{lock_hash}"
    assert labels["dev.greenlight.data.hash"] == image_build.data_hash(ROOT / "dvc.lock")
    assert len(labels["dev.greenlight.git.commit"].split("-")[0]) == 40
    assert config["User"] == f"{UID}:{UID}" and "/readyz" in " ".join(config["Healthcheck"]["Test"])
    # the base's own apt may stay (python slim has it too); no compiler, git, pip or apt cache
    probe = (
        "for tool in gcc cc make git pip pip3 curl wget; do command -v $tool; done;"
        " ls -d /var/cache/apt/archives/*.deb /var/lib/apt/lists/*Packages* 2>/dev/null;"
        " ls /opt/venv/lib/python3.11/site-packages; ls /app/greenlight"
    )
    listing = served[0].exec("sh", "-c", probe).stdout.split()
    assert not [path for path in listing if path.startswith("/")]  # no tool, no cache found
    lowered = {name.lower() for name in listing}
    assert "sklearn" in lowered and "bentoml" in lowered and "serving" in lowered
    assert not {"torch", "dvc", "pip", "setuptools", "stages", "report", "cli.py"} & lowered


@pytest.mark.slow
def test_the_sbom_lists_exactly_the_locked_packages_installed_in_the_image(
    built: dict, tmp_path: Path
) -> None:
    tool_venv = ROOT / image_sbom.TOOL_VENV
    try:
        image_sbom.tool_site(tool_venv)
    except PackagingError as missing:
        pytest.skip(str(missing))
    output = tmp_path / "sbom.cdx.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_HOST", DOCKER_HOST)
        document = image_sbom.image_sbom("docker", built["tag"], output, tool_venv)
    assert document["bomFormat"] == "CycloneDX" and json.loads(output.read_text()) == document
    locked = image.locked_versions((ROOT / image.IMAGE_LOCK).read_text())
    assert image_sbom.components(document) == locked  # nothing of the tool, pip or setuptools
