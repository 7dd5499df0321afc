"""The kubernetes target against a fake API server (no cluster here): what it patches, when it
switches, what it reads back, and whole rollouts through the controller."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from deploy_fake_cluster import FakeCluster
from deploy_fakes import PROBABILITIES, RECORDS, FakeClock, FakeService

from greenlight.deploy.audit import read_entries
from greenlight.deploy.controller import Candidate, Controller
from greenlight.deploy.settings import DeploySettings, KubernetesSettings, WatchSettings
from greenlight.deploy.smoke import KnownAnswer
from greenlight.deploy.targets.base import Release
from greenlight.deploy.targets.kubernetes import (
    SOURCE,
    VERSION,
    KubernetesError,
    KubernetesTarget,
)

IMAGE = "ghcr.io/acme/greenlight@sha256:" + "a" * 64
ANSWERS = [KnownAnswer(r, p) for r, p in zip(RECORDS, PROBABILITIES, strict=True)]


def target_for(cluster: FakeCluster) -> KubernetesTarget:
    return KubernetesTarget(KubernetesSettings(), cluster.connect)


def healthy(color: str, version: str) -> FakeService:
    return FakeService(version)


def rollout(cluster: FakeCluster, version: str, tmp_path: Path) -> str:
    settings = DeploySettings(
        readiness_deadline_s=10, audit_log=tmp_path / "audit.jsonl",
        watch=WatchSettings(window_s=5, interval_s=1, min_requests=5),
    )  # fmt: skip
    clock = FakeClock()
    controller = Controller(target_for(cluster), settings, None, clock, clock.sleep)
    candidate = Candidate(Release(version, f"{IMAGE[:-1]}{version[-1]}"), ANSWERS)
    return controller.deploy(candidate).decision


def test_a_fresh_cluster_has_no_live_color() -> None:
    state = target_for(FakeCluster()).state()
    assert state.live is None and state.idle == "blue"
    assert not any(slot.running or slot.release for slot in state.slots.values())


def test_start_patches_image_replicas_and_release_annotations() -> None:
    cluster = FakeCluster()
    target_for(cluster).start("green", Release("v2", IMAGE))
    path, method, body = cluster.patches[-1]
    assert (path.rsplit("/", 1)[-1], method) == ("greenlight-green", "PATCH")
    assert body["spec"]["replicas"] == 2
    assert body["spec"]["template"]["spec"]["containers"] == [{"name": "service", "image": IMAGE}]
    assert cluster.annotations("green") == {VERSION: "v2", SOURCE: IMAGE}
    assert cluster.image("green") == IMAGE


def test_switch_waits_for_a_fully_available_deployment() -> None:
    cluster = FakeCluster(polls_until_available=3, service_factory=healthy)
    target = target_for(cluster)
    target.start("green", Release("v2", IMAGE))
    with pytest.raises(KubernetesError, match="not available"):
        target.switch("green")
    assert cluster.selector["color"] == "blue"
    while not target.available("green"):
        pass  # each poll moves the fake rollout on
    target.switch("green")
    assert cluster.selector == {"app": "greenlight", "color": "green"}


def test_stop_scales_to_zero_and_keeps_the_release_it_is_given() -> None:
    cluster = FakeCluster()
    target = target_for(cluster)
    target.start("green", Release("v2", IMAGE))
    target.stop("green", Release("v1", "ghcr.io/acme/greenlight@sha256:old"))
    assert cluster.deployments["green"]["spec"]["replicas"] == 0
    assert cluster.image("green") == "ghcr.io/acme/greenlight@sha256:old"
    assert cluster.annotations("green")[VERSION] == "v1"
    target.stop("green", None)
    assert cluster.annotations("green") == {}


def test_failure_names_a_crash_looping_pod() -> None:
    cluster = FakeCluster(waiting_reason={"green": "ImagePullBackOff"})
    target = target_for(cluster)
    target.start("green", Release("v2", IMAGE))
    assert target.failure("green") == "pod greenlight-green-0: ImagePullBackOff"
    assert target.failure("blue") is None


def test_traffic_sums_the_predict_counters_of_the_color_pods() -> None:
    cluster = FakeCluster(service_factory=healthy)
    target = target_for(cluster)
    target.start("green", Release("v2", IMAGE))
    cluster.services["green"].requests, cluster.services["green"].errors = 40, 3
    traffic = target.traffic("green")
    assert (traffic.requests, traffic.errors) == (40, 3)  # /readyz calls are not counted


def test_an_api_error_names_the_request_and_the_server_message() -> None:
    def forbidden(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"message": 'deployments "greenlight-blue" is forbidden'})

    def connect(base: str) -> httpx.Client:
        return httpx.Client(base_url="https://kube.test", transport=httpx.MockTransport(forbidden))

    with pytest.raises(KubernetesError, match=r"GET .*greenlight-blue: 403 .*forbidden"):
        KubernetesTarget(KubernetesSettings(), connect).state()


def test_rollouts_switch_the_service_selector_and_park_the_old_color(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    assert rollout(cluster, "v1", tmp_path) == "deployed"
    assert cluster.selector["color"] == "blue"
    assert rollout(cluster, "v2", tmp_path) == "deployed"
    assert cluster.selector["color"] == "green"
    assert cluster.deployments["blue"]["spec"]["replicas"] == 0
    assert cluster.annotations("blue")[VERSION] == "v1"  # what a rollback brings back
    state = target_for(cluster).state()
    assert state.live == "green" and state.release("green").version == "v2"


def test_a_version_failing_its_known_answers_never_gets_the_selector(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    rollout(cluster, "v1", tmp_path)
    cluster.service_factory = lambda color, version: FakeService(version, skew=0.2)
    assert rollout(cluster, "v2", tmp_path) == "rejected"
    assert cluster.selector["color"] == "blue"
    assert cluster.deployments["green"]["spec"]["replicas"] == 0
    assert VERSION not in cluster.annotations("green")
    steps = {entry.step: entry.result for entry in read_entries(tmp_path / "audit.jsonl")[-8:]}
    assert steps["smoke:known_answers"] == "failed"


def test_a_stuck_rollout_is_rejected_with_the_pod_reason(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    rollout(cluster, "v1", tmp_path)
    cluster.waiting_reason["green"] = "CrashLoopBackOff"
    assert rollout(cluster, "v2", tmp_path) == "rejected"
    ready = [entry for entry in read_entries(tmp_path / "audit.jsonl") if entry.step == "ready"][-1]
    assert "CrashLoopBackOff" in ready.reason


def test_a_breach_after_the_switch_puts_the_selector_back(tmp_path: Path) -> None:
    cluster = FakeCluster(service_factory=healthy)
    rollout(cluster, "v1", tmp_path)
    original = cluster._router_service

    def switch_then_fail(method: str, request: httpx.Request) -> httpx.Response:
        response = original(method, request)
        if method == "PATCH" and cluster.selector["color"] == "green":
            cluster.services["green"].predict_status = 500
        return response

    cluster._router_service = switch_then_fail
    assert rollout(cluster, "v2", tmp_path) == "rolled_back"
    assert cluster.selector["color"] == "blue"
    assert cluster.deployments["green"]["spec"]["replicas"] == 0
    watch = [entry for entry in read_entries(tmp_path / "audit.jsonl") if entry.step == "watch"][-1]
    assert watch.result == "failed"
