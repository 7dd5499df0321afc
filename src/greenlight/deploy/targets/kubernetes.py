"""The Kubernetes target: Deployments `<app>-blue` and `<app>-green`, the Service `<app>` whose
selector picks the live color, and a Service per color that the controller reaches through the
API server's service proxy (no cluster network access needed, only the API).

Starting a color patches its Deployment's image and replica count; the switch patches the Service
selector, and only once the Deployment reports every replica available. A stopped color keeps its
image and version annotation at zero replicas, ready to come back for a rollback.

An A/B split weighs the Gateway API HTTPRoute `deploy.kubernetes.route` (deploy/k8s/httproute.yaml):
its rules are replaced (a JSON merge patch) with the two color pins and the weighted default, and
the split is recorded in the route's annotations, so any later process reads it back. A switch
sets the weights 100/0 and removes those annotations: it ends a split. A cluster without the
route (no Gateway API) still switches by the Service selector; it only cannot split."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from greenlight.deploy.audit import now_iso
from greenlight.deploy.metrics import predict_counts
from greenlight.deploy.settings import KubernetesSettings
from greenlight.deploy.targets.base import (
    COLORS,
    Color,
    Release,
    Slot,
    Split,
    TargetState,
    Traffic,
    other,
)
from greenlight.deploy.targets.state_dir import ReleaseModel, SplitModel
from greenlight.errors import GreenlightError, InfrastructureError

VERSION = "greenlight.dev/version"
SOURCE = "greenlight.dev/image"
STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"  # custom resources (the HTTPRoute) take no strategic merge
GATEWAY_API = "/apis/gateway.networking.k8s.io/v1"
VARIANT_HEADER = "X-Greenlight-Variant"
# the split in progress, in the HTTPRoute's annotations
SPLIT_CANDIDATE = "greenlight.dev/split-candidate"
SPLIT_PERCENT = "greenlight.dev/split-percent"
SPLIT_STARTED = "greenlight.dev/split-started-at"
SPLIT_REPLACED_VERSION = "greenlight.dev/split-replaced-version"
SPLIT_REPLACED_SOURCE = "greenlight.dev/split-replaced-image"
SPLIT_KEYS = (
    SPLIT_CANDIDATE,
    SPLIT_PERCENT,
    SPLIT_STARTED,
    SPLIT_REPLACED_VERSION,
    SPLIT_REPLACED_SOURCE,
)
WAITING_FOREVER = {  # container states that will not fix themselves while we wait
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
}

Connect = Callable[[str], httpx.Client]  # base path on the API server -> a client for it


class KubernetesError(InfrastructureError):
    """The API server refused a request or the cluster is not in the state we asked for."""


class KubernetesNotFound(KubernetesError):
    """The API server answered 404: the object (or its kind, for a missing CRD) does not exist."""


class SplitRefused(GreenlightError):
    """A split asked for what the cluster cannot do now (no live color, candidate not running)."""


@dataclass
class KubernetesTarget:
    settings: KubernetesSettings
    connect: Connect
    name: str = "kubernetes"

    # -- naming -------------------------------------------------------------------------------

    def _deployment(self, color: Color) -> str:
        namespace, app = self.settings.namespace, self.settings.app
        return f"/apis/apps/v1/namespaces/{namespace}/deployments/{app}-{color}"

    def _service(self, name: str) -> str:
        return f"/api/v1/namespaces/{self.settings.namespace}/services/{name}"

    def _selector(self, color: Color) -> str:
        return f"app={self.settings.app},color={color}"

    # -- API calls ----------------------------------------------------------------------------

    def _route_path(self) -> str:
        namespace, route = self.settings.namespace, self.settings.route
        return f"{GATEWAY_API}/namespaces/{namespace}/httproutes/{route}"

    def _call(
        self, method: str, path: str, body: Any = None, patch: str = STRATEGIC, **params: str
    ) -> dict[str, Any]:
        headers = {"Content-Type": patch} if method == "PATCH" else {}
        with self.connect("") as api:
            try:
                response = api.request(method, path, json=body, params=params, headers=headers)
            except httpx.TransportError as error:
                raise KubernetesError(f"{method} {path}: {error}") from error
        if response.status_code >= httpx.codes.BAD_REQUEST:
            failed = (
                KubernetesNotFound
                if response.status_code == httpx.codes.NOT_FOUND
                else KubernetesError
            )
            raise failed(f"{method} {path}: {response.status_code} {_message(response)}")
        return dict(response.json())

    # -- the Target contract ------------------------------------------------------------------

    def state(self) -> TargetState:
        slots = {
            color: self._slot(color, self._call("GET", self._deployment(color))) for color in COLORS
        }
        service = self._call("GET", self._service(self.settings.app))
        selected = service.get("spec", {}).get("selector", {}).get("color")
        live = selected if selected in COLORS and slots[selected].release else None
        split = self.current_split()
        shown = Split(split.candidate, split.percent, split.started_at) if split else None
        return TargetState(live=live, slots=slots, split=shown)

    @staticmethod
    def _slot(color: Color, deployment: dict[str, Any]) -> Slot:
        annotations = deployment.get("metadata", {}).get("annotations") or {}
        version, source = annotations.get(VERSION), annotations.get(SOURCE)
        release = Release(version=version, source=source) if version and source else None
        running = int(deployment.get("spec", {}).get("replicas") or 0) > 0
        return Slot(color, release, running)

    def start(self, color: Color, release: Release) -> None:
        self._patch_deployment(color, release, self.settings.replicas)

    def _patch_deployment(self, color: Color, release: Release | None, replicas: int) -> None:
        annotations = {VERSION: release.version, SOURCE: release.source} if release else {}
        template: dict[str, Any] = {"metadata": {"annotations": annotations}}
        if release:
            container = {"name": self.settings.container, "image": release.source}
            template["spec"] = {"containers": [container]}
        body = {
            "metadata": {"annotations": annotations or {VERSION: None, SOURCE: None}},
            "spec": {"replicas": replicas, "template": template},
        }
        self._call("PATCH", self._deployment(color), body)

    def available(self, color: Color) -> bool:
        """Every replica updated and available, and the controller has seen the latest spec."""
        deployment = self._call("GET", self._deployment(color))
        return deployment_available(deployment)

    def failure(self, color: Color) -> str | None:
        deployment = self._call("GET", self._deployment(color))
        for condition in deployment.get("status", {}).get("conditions", []):
            if condition.get("reason") == "ProgressDeadlineExceeded":
                return f"{self.settings.app}-{color}: {condition.get('message', 'no progress')}"
        return self._stuck_pod(color)

    def _stuck_pod(self, color: Color) -> str | None:
        pods = self._call("GET", self._pods(), labelSelector=self._selector(color))
        for pod in pods.get("items", []):
            for status in pod.get("status", {}).get("containerStatuses", []):
                reason = status.get("state", {}).get("waiting", {}).get("reason")
                if reason in WAITING_FOREVER:
                    return f"pod {pod['metadata']['name']}: {reason}"
        return None

    def _pods(self) -> str:
        return f"/api/v1/namespaces/{self.settings.namespace}/pods"

    def client(self, color: Color) -> httpx.Client:
        return self.connect(f"{self._service(f'{self.settings.app}-{color}')}:http/proxy")

    def traffic(self, color: Color) -> Traffic:
        """The /predict counters of every pod of the color, from their Prometheus metrics."""
        pods = self._call("GET", self._pods(), labelSelector=self._selector(color))
        totals = [self._pod_counts(pod["metadata"]["name"]) for pod in pods.get("items", [])]
        return Traffic(sum(t.requests for t in totals), sum(t.errors for t in totals))

    def _pod_counts(self, pod: str) -> Traffic:
        port = self.settings.container_port
        with self.connect(f"{self._pods()}/{pod}:{port}/proxy") as client:
            try:
                response = client.get("/metrics")
            except httpx.TransportError:
                return Traffic(0, 0)  # a pod going away: its counts no longer matter
        return predict_counts(response.text) if response.is_success else Traffic(0, 0)

    def switch(self, color: Color) -> None:
        if not self.available(color):
            raise KubernetesError(f"refusing to switch to {color}: its Deployment is not available")
        path = self._service(self.settings.app)
        service = self._call("PATCH", path, {"spec": {"selector": {"color": color}}})
        if service.get("spec", {}).get("selector", {}).get("color") != color:
            raise KubernetesError(f"{path}: the selector did not change to color={color}")
        if self._route() is not None:  # the weighted route follows: a split in progress ends
            self._weigh({color: 100, other(color): 0}, dict.fromkeys(SPLIT_KEYS))

    def stop(self, color: Color, keep: Release | None) -> None:
        self._patch_deployment(color, keep, replicas=0)

    def feed(self, color: Color) -> None:
        return None  # pods keep their prediction logs to themselves: no shadow step here

    # -- the A/B split (the HTTPRoute) ---------------------------------------------------------

    def split(self, candidate: Color, percent: int, replaced: Release | None) -> None:
        """`candidate` (running, not live) takes `percent` of the traffic beside the live color,
        by the route's weights; the split, and `replaced` for a rollback, go in its annotations."""
        live = self.state().live
        if live is None or live == candidate:
            raise SplitRefused(f"a split needs a live color beside {candidate}")
        if not self.available(candidate):
            raise SplitRefused(f"{candidate} is not available: nothing to split traffic to")
        if self._route() is None:
            raise SplitRefused(
                f"{self._route_path()}: no such HTTPRoute (deploy/k8s/httproute.yaml)"
            )
        recorded = {SPLIT_CANDIDATE: candidate, SPLIT_PERCENT: str(percent)}
        kept = {SPLIT_REPLACED_VERSION: None, SPLIT_REPLACED_SOURCE: None}
        if replaced:
            kept = {
                SPLIT_REPLACED_VERSION: replaced.version,
                SPLIT_REPLACED_SOURCE: replaced.source,
            }
        started: dict[str, str | None] = {SPLIT_STARTED: now_iso(), **recorded, **kept}
        self._weigh({live: 100 - percent, candidate: percent}, started)

    def current_split(self) -> SplitModel | None:
        """The split recorded on the route; None without one (or without the route)."""
        route = self._route()
        annotations = (route or {}).get("metadata", {}).get("annotations") or {}
        return split_from(annotations, self._route_path())

    def _route(self) -> dict[str, Any] | None:
        try:
            return self._call("GET", self._route_path())
        except KubernetesNotFound:
            return None

    def _weigh(self, weights: dict[Color, int], annotations: dict[str, str | None]) -> None:
        """Replace the route's rules (pins, then the weighted default) and set `annotations`
        (None removes one); KubernetesError unless the route now carries those weights."""
        body = {"metadata": {"annotations": annotations}, "spec": {"rules": self._rules(weights)}}
        route = self._call("PATCH", self._route_path(), body, patch=MERGE)
        if route_weights(route, self.settings.app) != weights:
            raise KubernetesError(f"{self._route_path()}: the weights did not change to {weights}")

    def _rules(self, weights: dict[Color, int]) -> list[dict[str, Any]]:
        port = self.settings.service_port
        refs = {color: {"name": f"{self.settings.app}-{color}", "port": port} for color in COLORS}
        pins = [
            {
                "matches": [{"headers": [{"name": VARIANT_HEADER, "value": c}]}],
                "backendRefs": [refs[c]],
            }
            for c in COLORS
        ]
        weighted = [{**refs[color], "weight": weights[color]} for color in COLORS]
        return [*pins, {"backendRefs": weighted}]


def route_weights(route: dict[str, Any], app: str) -> dict[Color, int]:
    """The weight of each color in the route's rule without matches (the default)."""
    names = {f"{app}-{color}": color for color in COLORS}
    for rule in route.get("spec", {}).get("rules", []):
        if not rule.get("matches"):
            refs = rule.get("backendRefs", [])
            return {
                names[ref["name"]]: int(ref.get("weight", 1))
                for ref in refs
                if ref["name"] in names
            }
    return {}


def split_from(annotations: dict[str, str], where: str) -> SplitModel | None:
    """The split the annotations record; KubernetesError naming `where` when they are garbled."""
    if SPLIT_CANDIDATE not in annotations:
        return None
    version, source = (
        annotations.get(SPLIT_REPLACED_VERSION),
        annotations.get(SPLIT_REPLACED_SOURCE),
    )
    replaced = ReleaseModel(version=version, source=source) if version and source else None
    recorded = {
        "candidate": annotations[SPLIT_CANDIDATE],
        "percent": annotations.get(SPLIT_PERCENT),
        "started_at": annotations.get(SPLIT_STARTED),
        "replaced": replaced,
    }
    try:
        return SplitModel.model_validate(recorded)
    except ValueError as error:  # pydantic's ValidationError is one
        raise KubernetesError(f"{where}: not a split greenlight recorded: {error}") from error


def deployment_available(deployment: dict[str, Any]) -> bool:
    spec, status = deployment.get("spec", {}), deployment.get("status", {})
    wanted = int(spec.get("replicas") or 0)
    observed = status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
    counts = [int(status.get(key) or 0) for key in ("updatedReplicas", "availableReplicas")]
    return wanted > 0 and observed and all(count >= wanted for count in counts)


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text[:200]))
    except ValueError:
        return response.text[:200]
