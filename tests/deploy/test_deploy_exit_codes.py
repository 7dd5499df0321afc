"""`greenlight deploy` through the real CLI, by the exit-code contract: 1 a rejected version,
2 bad input, 4 the infrastructure failed (HAProxy gone mid-rollout, a cluster that does not
answer, another deployment holding the target). In-memory targets stand in for the real ones."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import certifi
import pytest
from deploy_fakes import PROBABILITIES, RECORDS, FakeService, FakeTarget
from typer.testing import CliRunner

from greenlight.cli import app
from greenlight.deploy import runner
from greenlight.deploy.audit import read_entries
from greenlight.deploy.targets.base import Color, Release
from greenlight.deploy.targets.haproxy import ProxyError
from greenlight.deploy.targets.state_dir import exclusive
from greenlight.errors import ExitCode
from greenlight.localnet import free_port

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = [{"record": r, "probability": p} for r, p in zip(RECORDS, PROBABILITIES, strict=True)]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """params.yaml and a bundle v2 whose recorded answers the fake service reproduces."""
    shutil.copy(ROOT / "params.yaml", tmp_path)
    bundle = tmp_path / "models" / "bundle"
    bundle.mkdir(parents=True)
    manifest = {"format": 1, "model_version": "v2", "known_answers": ANSWERS}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.chdir(tmp_path)
    return tmp_path


class ProxyGoneAtSwitch(FakeTarget):
    def switch(self, color: Color) -> None:
        raise ProxyError("HAProxy's admin socket haproxy.sock: [Errno 111] Connection refused")


def use_target(monkeypatch: pytest.MonkeyPatch, target: FakeTarget) -> None:
    @contextmanager
    def opened(name: str, settings: object) -> Iterator[FakeTarget]:
        yield target

    monkeypatch.setattr(runner, "open_target", opened)


def deploy(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["deploy", *args])
    return result.exit_code, result.stderr


def failing_predict(release: Release) -> FakeService:
    return FakeService(release.version, predict_status=500)


def healthy(release: Release) -> FakeService:
    return FakeService(release.version)


def test_a_version_that_fails_its_smoke_test_exits_1(project: Path, monkeypatch) -> None:
    target = FakeTarget(make_service=failing_predict)
    use_target(monkeypatch, target)
    code, err = deploy()
    assert code == ExitCode.CHECK_FAILED, err
    assert ("switch", "blue") not in target.calls


def test_haproxy_gone_mid_rollout_exits_4_and_is_recorded(project: Path, monkeypatch) -> None:
    use_target(monkeypatch, ProxyGoneAtSwitch(make_service=healthy))
    code, err = deploy()
    assert code == ExitCode.INFRASTRUCTURE, err
    assert err.startswith("error: HAProxy's admin socket") and "Traceback" not in err
    abort = read_entries(project / ".deploy" / "audit.jsonl")[-1]
    assert (abort.step, abort.result) == ("abort", "failed") and "ProxyError" in abort.reason


def test_another_deployment_holding_the_target_exits_4(project: Path) -> None:
    state_dir = project / ".deploy" / "local"
    (project / "params.yaml").write_text(f"deploy:\n  local:\n    state_dir: {state_dir}\n")
    state_dir.mkdir(parents=True)
    with exclusive(state_dir / "lock"):
        code, err = deploy("status", "--target", "local")
    assert code == ExitCode.INFRASTRUCTURE, err
    assert "another deployment is running" in err


def test_a_cluster_that_does_not_answer_exits_4(project: Path, monkeypatch) -> None:
    monkeypatch.setenv("KUBE_API_SERVER", f"https://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("KUBE_CA_CERT", Path(certifi.where()).read_text())
    monkeypatch.setenv("KUBE_TOKEN", "t0ken")
    code, err = deploy("status", "--target", "kubernetes")
    assert code == ExitCode.INFRASTRUCTURE, err
    assert err.startswith("error: GET ")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, "needs KUBE_API_SERVER, KUBE_CA_CERT"),
        ({"KUBE_API_SERVER": "https://k", "KUBE_CA_CERT": "not a PEM"}, "not a PEM certificate"),
    ],
)
def test_missing_or_malformed_credentials_exit_2(
    project: Path, monkeypatch, variables: dict[str, str], message: str
) -> None:
    for name in ("KUBE_API_SERVER", "KUBE_CA_CERT", "KUBE_TOKEN", "KUBE_OIDC_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KUBE_TOKEN", "t0ken")
    code, err = deploy("status", "--target", "kubernetes")
    assert code == ExitCode.BAD_INPUT and message in err, err
