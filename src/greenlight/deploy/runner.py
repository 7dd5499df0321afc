"""Wiring for the CLI: which target, with which credentials, deploying what. Kept apart from the
controller so the state machine never reads the environment or the file system itself."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import httpx

from greenlight.deploy.controller import Candidate, DeployError
from greenlight.deploy.settings import DeploySettings, KubernetesSettings
from greenlight.deploy.smoke import KnownAnswer, known_answers_from
from greenlight.deploy.targets.base import Release, Target
from greenlight.deploy.targets.docker import open_docker
from greenlight.deploy.targets.kubernetes import KubernetesTarget
from greenlight.deploy.targets.local import open_local
from greenlight.errors import InfrastructureError
from greenlight.manifest import read_manifest

TargetName = Literal["local", "kubernetes", "docker"]
Fetch = Callable[..., httpx.Response]
CREDENTIALS = ("KUBE_API_SERVER", "KUBE_CA_CERT")
OIDC_REQUEST = ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")


@contextmanager
def open_target(
    name: TargetName, settings: DeploySettings, restart_only: bool = False
) -> Iterator[Target]:
    """`restart_only` (local): a dead HAProxy comes back, a never-started one stays so."""
    if name == "local":
        with open_local(settings.local, restart_only=restart_only) as target:
            yield target
    elif name == "docker":
        with open_docker(settings.docker) as docker:
            yield docker
    else:
        yield kubernetes_from_env(settings.kubernetes, os.environ)


def kubernetes_from_env(
    settings: KubernetesSettings, environ: Mapping[str, str], fetch: Fetch = httpx.get
) -> KubernetesTarget:
    """The API server and its CA certificate (PEM) from the environment, and a bearer token:
    KUBE_TOKEN (a `production` environment secret) or, with KUBE_OIDC_AUDIENCE set, the
    workflow's own short-lived OIDC token, which the cluster is configured to trust."""
    missing = [name for name in CREDENTIALS if not environ.get(name)]
    if missing:
        raise DeployError(f"the kubernetes target needs {', '.join(missing)} in the environment")
    server = environ["KUBE_API_SERVER"].rstrip("/")
    if not server.startswith("https://"):
        raise DeployError("KUBE_API_SERVER must be an https:// URL")
    headers = {"Authorization": f"Bearer {cluster_token(environ, fetch)}"}
    trust = _trust(environ["KUBE_CA_CERT"])

    def connect(base: str) -> httpx.Client:
        timeout = settings.request_timeout_s
        return httpx.Client(base_url=server + base, headers=headers, verify=trust, timeout=timeout)

    return KubernetesTarget(settings, connect)


def _trust(pem: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cadata=pem)
    except ssl.SSLError as error:
        raise DeployError(f"KUBE_CA_CERT is not a PEM certificate: {error}") from error


def cluster_token(environ: Mapping[str, str], fetch: Fetch = httpx.get) -> str:
    if environ.get("KUBE_TOKEN"):
        return environ["KUBE_TOKEN"]
    audience = environ.get("KUBE_OIDC_AUDIENCE")
    if not audience:
        raise DeployError("set KUBE_TOKEN, or KUBE_OIDC_AUDIENCE to use the workflow's OIDC token")
    if not all(environ.get(name) for name in OIDC_REQUEST):
        raise DeployError("no OIDC token here: the job needs `permissions: id-token: write`")
    url, bearer = (environ[name] for name in OIDC_REQUEST)
    return _oidc_token(fetch, url, audience, bearer)


def _oidc_token(fetch: Fetch, url: str, audience: str, bearer: str) -> str:
    """The workflow's OIDC token from Actions' token service (a service: its failures exit 4)."""
    try:
        response = fetch(
            url, params={"audience": audience}, headers={"Authorization": f"bearer {bearer}"}
        )
    except httpx.TransportError as error:
        raise InfrastructureError(f"the OIDC token request failed: {error}") from error
    if not response.is_success:
        raise InfrastructureError(f"the OIDC token request answered {response.status_code}")
    return str(response.json()["value"])


def bundle_candidate(bundle: Path, image: str | None = None) -> Candidate:
    """The release a bundle describes: deployed as the bundle itself, or as an image of it."""
    manifest = read_manifest(bundle)
    source = image if image is not None else str(bundle)
    return Candidate(Release(str(manifest["model_version"]), source), known_answers_from(manifest))


def answers_lookup(
    name: TargetName, bundle: Path | None
) -> Callable[[Release], list[KnownAnswer] | None]:
    """Where a rollback finds the recorded answers of the release it brings back: the local
    target's bundle snapshot; for an image, the given bundle's manifest if it is that version."""
    if name == "local":
        return lambda release: known_answers_from(read_manifest(Path(release.source)))
    manifest = read_manifest(bundle) if bundle is not None and bundle.is_dir() else None

    def lookup(release: Release) -> list[KnownAnswer] | None:
        if manifest is None or manifest.get("model_version") != release.version:
            return None
        return known_answers_from(manifest)

    return lookup
