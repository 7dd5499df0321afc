"""The docker target's pure parts, without an engine: the `docker run` line, image references and
users, reading `docker inspect`, and the target's decisions over a fake engine."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from greenlight.deploy.settings import DockerSettings
from greenlight.deploy.targets.base import Release
from greenlight.deploy.targets.docker import DockerTarget, DockerTargetError, check_engine_is_local
from greenlight.deploy.targets.docker_engine import (
    ContainerSpec,
    EngineError,
    ImageRefError,
    check_digest_reference,
    check_user,
    describe,
    parse_inspect,
    run_args,
)
from greenlight.deploy.targets.docker_state import ContainerSlot, DockerState
from greenlight.deploy.targets.haproxy import ProxyError
from greenlight.deploy.targets.local_state import LocalState
from greenlight.deploy.targets.state_dir import ReleaseModel, exclusive
from greenlight.errors import GreenlightError, TargetBusyError

DIGEST = "127.0.0.1:5000/greenlight@sha256:" + "ab" * 32


def spec(user: str | None = None) -> ContainerSpec:
    return ContainerSpec(
        name="greenlight-green", image=DIGEST, labels={"greenlight.dev/color": "green"},
        port=40123, volume="greenlight-green-logs", log_dir="/var/log/greenlight", user=user,
        env={"BENTOML_PORT": "40123"}, args=["--workers", "1"], stop_grace_s=10,
    )  # fmt: skip


def test_a_color_runs_read_only_without_capabilities_on_the_host_network() -> None:
    args = run_args(spec())
    pairs = set(itertools.pairwise(args))
    for pair in [("--network", "host"), ("--cap-drop", "ALL"), ("--name", "greenlight-green"),
                 ("--security-opt", "no-new-privileges"), ("--restart", "no"),
                 ("--label", "greenlight.dev/color=green")]:  # fmt: skip
        assert pair in pairs, pair
    assert "--read-only" in args and "--detach" in args
    assert ("--mount", "type=volume,src=greenlight-green-logs,dst=/var/log/greenlight") in pairs
    assert not {"--privileged", "-p", "--publish", "--user"} & set(args)  # the image's own USER
    assert ("--env", "BENTOML_PORT=40123") in pairs
    assert args[-3:] == [DIGEST, "--workers", "1"]  # the service's arguments after the image
    with_user = run_args(spec("65532:65532"))
    assert with_user[with_user.index("--user") + 1] == "65532:65532"


@pytest.mark.parametrize(
    "reference",
    ["ghcr.io/o/r:latest", "ghcr.io/o/r", "ghcr.io/o/r@sha256:abc", f"{DIGEST}x", "UPPER@sha256:"],
)
def test_only_a_reference_by_full_digest_is_deployed(reference: str) -> None:
    with pytest.raises(ImageRefError, match="by digest"):
        check_digest_reference(reference)


def test_a_digest_reference_passes() -> None:
    assert check_digest_reference(DIGEST) == DIGEST


@pytest.mark.parametrize("user", [None, "", "root", "0", "0:0", "root:root"])
def test_an_image_running_as_root_is_refused(user: str | None) -> None:
    with pytest.raises(ImageRefError, match="root"):
        check_user(user, DIGEST)


def test_a_non_root_user_passes() -> None:
    assert check_user("65532:65532", DIGEST) == "65532:65532"


def inspected(running: bool, **state: Any) -> dict[str, Any]:
    base = {"Status": "running" if running else "exited", "Running": running, "ExitCode": 0}
    return {
        "Id": "f" * 64, "Name": "/greenlight-blue", "State": {**base, **state},
        "Config": {"Image": DIGEST, "Labels": {"greenlight.dev/target": "greenlight"}},
    }  # fmt: skip


def test_inspect_tells_a_running_container_from_a_killed_one() -> None:
    healthy = inspected(True, Health={"Status": "healthy"})
    killed = inspected(False, ExitCode=137, FinishedAt="2026-12-03T09:00:00Z")
    up, down = parse_inspect(json.dumps([healthy, killed]))
    assert up.running
    assert describe(up) == f"running: container greenlight-blue ({'f' * 12}, healthy)"
    assert not down.running
    assert describe(down).startswith("dead: container greenlight-blue is exited")
    assert "exit code 137 at 2026-12-03T09:00:00Z" in describe(down)
    oom = parse_inspect(json.dumps([inspected(False, OOMKilled=True, ExitCode=137)]))[0]
    assert "out of memory" in describe(oom)
    assert describe(None) == "dead: its container is gone"


def test_inspect_output_that_is_not_a_list_is_an_error() -> None:
    with pytest.raises(EngineError, match="no JSON"):
        parse_inspect("Error: no such object")
    with pytest.raises(EngineError, match="not a list"):
        parse_inspect("{}")


@pytest.mark.parametrize("host", ["ssh://deploy@vm", "tcp://10.0.0.2:2376"])
def test_a_remote_engine_is_refused_with_where_to_run_instead(host: str) -> None:
    with pytest.raises(DockerTargetError, match="run `greenlight deploy --target docker` on"):
        check_engine_is_local({"DOCKER_HOST": host})


def test_a_local_engine_passes() -> None:
    check_engine_is_local({})
    check_engine_is_local({"DOCKER_HOST": "unix:///run/greenlight/docker.sock"})


class FakeEngine:
    """Answers `docker inspect` from a dict and records every other command."""

    def __init__(self, containers: list[dict[str, Any]], user: str = "65532") -> None:
        self.containers, self.user, self.calls = containers, user, []

    def __call__(self, *args: str, check: bool = True) -> str:
        self.calls.append(args)
        return ""

    def inspect(self, names: list[str]) -> dict[str, Any]:
        found = parse_inspect(json.dumps(self.containers))
        return {info.name: info for info in found if info.name in names}

    def image_user(self, reference: str) -> str:
        return self.user

    def labelled(self, kind: str, label: str) -> list[str]:
        return []


def target(tmp_path: Path, engine: FakeEngine, slot: ContainerSlot | None = None) -> DockerTarget:
    settings = DockerSettings(state_dir=tmp_path)
    state = DockerState()
    if slot is not None:
        state.slots["blue"] = slot
    state.save(tmp_path / "state.json")
    return DockerTarget(settings, engine)  # type: ignore[arg-type]


def test_status_asks_the_engine_a_dead_or_replaced_container_is_dead(tmp_path: Path) -> None:
    release = ReleaseModel(version="v1", source=DIGEST)
    killed = inspected(False, ExitCode=137)
    slot = ContainerSlot(release=release, port=40000, container="f" * 64)
    blue = target(tmp_path, FakeEngine([killed]), slot).state().slots["blue"]
    assert not blue.running and blue.condition is not None and "exit code 137" in blue.condition
    replaced = ContainerSlot(release=release, port=40000, container="e" * 64)
    blue = target(tmp_path, FakeEngine([inspected(True)]), replaced).state().slots["blue"]
    assert not blue.running and blue.condition == "dead: its container is gone"
    green = target(tmp_path, FakeEngine([])).state().slots["green"]
    assert (green.running, green.condition) == (False, "stopped")


def test_a_tag_or_a_root_image_is_refused_before_anything_runs(tmp_path: Path) -> None:
    engine = FakeEngine([])
    with pytest.raises(ImageRefError, match="by digest"):
        target(tmp_path, engine).start("blue", Release("v1", "ghcr.io/o/r:latest"))
    assert engine.calls == []
    root = FakeEngine([], user="")
    with pytest.raises(ImageRefError, match="root"):
        target(tmp_path, root).start("blue", Release("v1", DIGEST))
    assert [call[0] for call in root.calls] == ["pull"]  # pulled to read its USER; nothing run


def test_a_container_of_that_name_that_is_not_ours_is_left_alone(tmp_path: Path) -> None:
    stranger = inspected(False)
    stranger["Config"]["Labels"] = {}
    stranger["Name"] = "/greenlight-blue"
    engine = FakeEngine([stranger])
    with pytest.raises(DockerTargetError, match="not ours"):
        target(tmp_path, engine).start("blue", Release("v1", DIGEST))
    assert all(call[0] != "rm" for call in engine.calls)


def test_the_docker_target_needs_an_image(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "greenlight", "deploy", "--target", "docker"], cwd=tmp_path,
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "--target docker needs --image" in done.stderr


def test_a_color_listens_on_loopback_at_its_port_and_logs_to_its_volume(tmp_path: Path) -> None:
    """The serving image's own variables: BentoML's host and port, greenlight's prediction log."""
    engine = FakeEngine([])
    docker_target = target(tmp_path, engine)
    with pytest.raises(ProxyError):  # no HAProxy here to put it in maintenance: after the run
        docker_target.start("green", Release("v1", DIGEST))
    run = next(call for call in engine.calls if call[0] == "run")
    port = json.loads((tmp_path / "state.json").read_text())["slots"]["green"]["port"]
    env = {run[i + 1] for i, part in enumerate(run) if part == "--env"}
    assert env == {
        "BENTOML_HOST=127.0.0.1", f"BENTOML_PORT={port}",
        "GREENLIGHT_PREDICTION_LOG=/var/log/greenlight/predictions.jsonl",
    }  # fmt: skip
    assert run[-1] == DIGEST  # the image's own CMD serves
    assert ("pull", "--quiet", DIGEST) in engine.calls


def test_one_deployment_at_a_time_the_second_told_the_target_is_busy(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    refused = pytest.raises(TargetBusyError, match=str(lock))
    with exclusive(lock), refused, exclusive(lock):
        pass
    with exclusive(lock):  # released: the next deployment gets in
        pass


def test_a_state_file_of_the_other_target_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    LocalState(metrics_port=8404).save(path)
    with pytest.raises(GreenlightError, match=rf"{path}: not a docker deploy state file"):
        DockerState.load(path)
    assert LocalState.load(path).metrics_port == 8404
    assert DockerState.load(tmp_path / "none.json") == DockerState()
