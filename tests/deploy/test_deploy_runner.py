"""Wiring: credentials for the kubernetes target (never a default, never plain http), the OIDC
token path, and what a bundle deploys as."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest
from deploy_rig import ANSWERS, stub_bundle

from greenlight.deploy.controller import DeployError
from greenlight.deploy.runner import answers_lookup, bundle_candidate, kubernetes_from_env
from greenlight.deploy.settings import KubernetesSettings
from greenlight.deploy.targets.base import Release

CA = Path(certifi.where()).read_text()
BASE = {"KUBE_API_SERVER": "https://kube.example:6443/", "KUBE_CA_CERT": CA}


def test_missing_credentials_are_named() -> None:
    with pytest.raises(DeployError, match="KUBE_API_SERVER, KUBE_CA_CERT"):
        kubernetes_from_env(KubernetesSettings(), {})


def test_plain_http_is_refused() -> None:
    environ = {**BASE, "KUBE_API_SERVER": "http://kube.example", "KUBE_TOKEN": "t"}
    with pytest.raises(DeployError, match="https://"):
        kubernetes_from_env(KubernetesSettings(), environ)


def test_a_token_from_the_environment_reaches_every_request() -> None:
    target = kubernetes_from_env(KubernetesSettings(), {**BASE, "KUBE_TOKEN": "s3cret"})
    with target.connect("/api/v1/namespaces/greenlight") as client:
        assert str(client.base_url) == "https://kube.example:6443/api/v1/namespaces/greenlight/"
        assert client.headers["Authorization"] == "Bearer s3cret"


def test_without_a_token_the_workflow_oidc_token_is_used() -> None:
    asked: list[dict[str, Any]] = []

    def fetch(url: str, **kwargs: Any) -> httpx.Response:
        asked.append({"url": url, **kwargs})
        return httpx.Response(200, json={"value": "jwt-from-github"})

    environ = {
        **BASE, "KUBE_OIDC_AUDIENCE": "greenlight-cluster",
        "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.example/?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
    }  # fmt: skip
    target = kubernetes_from_env(KubernetesSettings(), environ, fetch)
    with target.connect("") as client:
        assert client.headers["Authorization"] == "Bearer jwt-from-github"
    assert asked[0]["params"] == {"audience": "greenlight-cluster"}
    assert asked[0]["headers"] == {"Authorization": "bearer request-token"}


def test_oidc_without_the_id_token_permission_says_so() -> None:
    environ = {**BASE, "KUBE_OIDC_AUDIENCE": "greenlight-cluster"}
    with pytest.raises(DeployError, match="id-token: write"):
        kubernetes_from_env(KubernetesSettings(), environ)
    with pytest.raises(DeployError, match="KUBE_TOKEN, or KUBE_OIDC_AUDIENCE"):
        kubernetes_from_env(KubernetesSettings(), BASE)


def test_a_bundle_deploys_as_itself_or_as_its_image(tmp_path: Path) -> None:
    bundle = stub_bundle(tmp_path, "v7")
    local = bundle_candidate(bundle)
    assert local.release == Release("v7", str(bundle))
    assert [answer.probability for answer in local.answers] == [a["probability"] for a in ANSWERS]
    assert bundle_candidate(bundle, "ghcr.io/x/y@sha256:1").release.source == "ghcr.io/x/y@sha256:1"


def test_a_rollback_to_an_image_uses_the_bundle_only_if_it_is_that_version(tmp_path: Path) -> None:
    lookup = answers_lookup("kubernetes", stub_bundle(tmp_path, "v7"))
    assert lookup(Release("v7", "image")) is not None
    assert lookup(Release("v6", "image")) is None
    assert answers_lookup("kubernetes", None)(Release("v7", "image")) is None


def test_a_local_rollback_reads_the_answers_of_the_snapshot(tmp_path: Path) -> None:
    bundle = stub_bundle(tmp_path, "v3")
    answers = answers_lookup("local", None)(Release("v3", str(bundle)))
    assert answers is not None and len(answers) == len(
        json.loads((bundle / "manifest.json").read_text())["known_answers"]
    )
