"""The Kubernetes target: Deployments `<app>-blue` and `<app>-green`, the Service `<app>` whose
selector picks the live color, and a Service per color that the controller reaches through the
API server's service proxy (no cluster network access needed, only the API).

Starting a color patches its Deployment's image and replica count; the switch patches the Service
selector, and only once the Deployment reports every replica available. A stopped color keeps its
image and version annotation at zero replicas, ready to come back for a rollback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from greenlight.deploy.metrics import predict_counts
from greenlight.deploy.settings import KubernetesSettings
from greenlight.deploy.targets.base import COLORS, Color, Release, Slot, TargetState, Traffic
from greenlight.errors import InfrastructureError

VERSION = "greenlight.dev/version"
SOURCE = "greenlight.dev/image"
STRATEGIC = "application/strategic-merge-patch+json"
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

    def _call(self, method: str, path: str, body: Any = None, **params: str) -> dict[str, Any]:
        headers = {"Content-Type": STRATEGIC} if method == "PATCH" else {}
        with self.connect("") as api:
            try:
                response = api.request(method, path, json=body, params=params, headers=headers)
            except httpx.TransportError as error:
                raise KubernetesError(f"{method} {path}: {error}") from error
        if response.status_code >= httpx.codes.BAD_REQUEST:
            detail = _message(response)
            raise KubernetesError(f"{method} {path}: {response.status_code} {detail}")
        return dict(response.json())

    # -- the Target contract ------------------------------------------------------------------

    def state(self) -> TargetState:
        slots = {
            color: self._slot(color, self._call("GET", self._deployment(color))) for color in COLORS
        }
        service = self._call("GET", self._service(self.settings.app))
        selected = service.get("spec", {}).get("selector", {}).get("color")
        live = selected if selected in COLORS and slots[selected].release else None
        return TargetState(live=live, slots=slots)

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

    def stop(self, color: Color, keep: Release | None) -> None:
        self._patch_deployment(color, keep, replicas=0)

    def feed(self, color: Color) -> None:
        return None  # pods keep their prediction logs to themselves: no shadow step here


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
