"""The bento: tagged with the model version, carrying the hash-checked bundle and only the serving
dependencies, served by BentoML from the store; and the image build, which needs an engine."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from serving_support import input_records

from conftest import PipelineRun
from greenlight.errors import ArtifactError
from greenlight.serving import bento
from tools.harness.server import HOST, RunningServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("model_version", "tag_version"),
    [
        ("3f2a9c1e", "3f2a9c1e"),
        ("unknown-dirty-21efab25", "unknown-dirty-21efab25"),
        ("Release 2/Candidate+1", "release-2-candidate-1"),
        ("-.x" + "a" * 80, "x" + "a" * 62),
    ],
)
def test_model_versions_become_valid_bento_versions(model_version: str, tag_version: str) -> None:
    assert bento.bento_version(model_version) == tag_version


def test_a_version_with_nothing_usable_is_refused() -> None:
    with pytest.raises(bento.PackagingError, match="nothing usable"):
        bento.bento_version("///")


def test_requirements_are_the_serving_closure_pinned_by_the_lock() -> None:
    pins = bento.serving_requirements("hgb", ROOT / "requirements.lock")
    names = {pin.split("==")[0].lower() for pin in pins}
    assert {"bentoml", "scikit-learn", "skops", "scipy", "joblib", "pydantic"} <= names
    assert not {"dvc", "evidently", "fairlearn", "pandera", "matplotlib", "torch", "pytest"} & names
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    assert all(pin in lock for pin in pins)
    assert "torch" in {pin.split("==")[0] for pin in bento.serving_requirements("mlp")}


def test_an_unpinned_dependency_is_an_error() -> None:
    with pytest.raises(bento.PackagingError, match=r"pins none of \['skops'\]"):
        bento.pinned_requirements("numpy==2.0\n", {"numpy", "skops"})


def fake_engine(directory: Path, name: str, exit_code: int, message: str = "") -> None:
    script = directory / name
    script.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_no_engine_says_why_and_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_engine(tmp_path, "docker", 1, "Cannot connect to the Docker daemon")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(bento.PackagingError) as caught:
        bento.find_engine("greenlight-service:v1")
    message = str(caught.value)
    assert "docker: not usable: Cannot connect to the Docker daemon" in message
    assert "podman: not installed" in message
    assert "bentoml serve greenlight-service:v1" in message
    assert "bentoml export greenlight-service:v1" in message


def test_the_first_working_engine_is_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_engine(tmp_path, "docker", 1, "daemon down")
    fake_engine(tmp_path, "podman", 0)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert bento.find_engine("greenlight-service:v1") == "podman"
    with pytest.raises(bento.PackagingError, match="not usable: daemon down"):
        bento.find_engine("greenlight-service:v1", preferred="docker")
    with pytest.raises(bento.PackagingError, match="not one of docker, podman"):
        bento.find_engine("greenlight-service:v1", preferred="kubectl")


def test_a_tampered_bundle_is_not_packaged(bundle_copy: Path, tmp_path: Path) -> None:
    with (bundle_copy / "preprocessor.skops").open("ab") as stream:
        stream.write(b"\0")
    with pytest.raises(ArtifactError, match=r"preprocessor\.skops"):
        bento.stage(bundle_copy, tmp_path / "staging", ROOT / "bentofile.yaml")


@pytest.mark.slow
def test_the_bento_carries_the_bundle_and_serves_it(
    pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # bentofile.yaml and requirements.lock
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml-home"))
    tag = bento.build(pipeline_run.bundle, tmp_path / "staging")
    manifest = json.loads((pipeline_run.bundle / "manifest.json").read_text())
    assert tag == f"greenlight-service:{bento.bento_version(manifest['model_version'])}"
    assert bento.build(pipeline_run.bundle, tmp_path / "staging") == tag  # rebuilds in place
    stored = tmp_path / "bentoml-home" / "bentos" / "greenlight-service" / tag.split(":")[1]
    bundle_files = sorted(path.name for path in (stored / "src" / "models" / "bundle").iterdir())
    assert bundle_files == sorted(path.name for path in pipeline_run.bundle.iterdir())
    assert (stored / "src" / "greenlight" / "serving" / "service.py").is_file()
    requirements = (stored / "env" / "python" / "requirements.txt").read_text()
    assert "bentoml==" in requirements and "dvc==" not in requirements
    containerfile = tmp_path / "Containerfile"
    script = "import bentoml, sys; bentoml.container.get_containerfile(sys.argv[1], sys.argv[2])"
    subprocess.run(
        [sys.executable, "-c", script, tag, str(containerfile)], check=True, env=os.environ
    )
    text = containerfile.read_text()
    assert "USER bentoml" in text  # the image does not run as root
    assert 'OMP_NUM_THREADS="1"' in text or "OMP_NUM_THREADS=1" in text

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "bentoml", "serve", tag, "--host", HOST, "--port", str(port)]

    record = input_records(pipeline_run.split, 1)
    with RunningServer.run(command, {"BENTOML_DO_NOT_TRACK": "True"}) as server:
        answer = httpx.post(f"{server.base_url}/predict", json={"records": record}, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["model_version"] == manifest["model_version"]
