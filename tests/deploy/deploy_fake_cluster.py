"""A fake Kubernetes API server behind httpx's MockTransport: the Deployments, Services, pods and
proxy paths the kubernetes target uses, with strategic-merge PATCH semantics for the fields it
patches, Deployments that become available a few polls after they are scaled up, and the
Gateway API HTTPRoute (JSON merge patch, RFC 7386: objects merge, null removes, lists replace).
Every request is logged in `calls` (method, path), for the RBAC check."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from deploy_fakes import FakeService

from greenlight.deploy.targets.base import COLORS
from greenlight.deploy.targets.kubernetes import MERGE, SOURCE, STRATEGIC, VERSION

NS = "/api/v1/namespaces/greenlight"
APPS = "/apis/apps/v1/namespaces/greenlight"
ROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/greenlight/httproutes"
METRIC = "bentoml_service_request_total"  # BentoML's name, labels as it writes them


def httproute() -> dict[str, Any]:
    """deploy/k8s/httproute.yaml as applied (bootstrap: 100/0 for blue)."""
    refs = {color: {"name": f"greenlight-{color}", "port": 3000} for color in COLORS}
    pins = [
        {"matches": [{"headers": [{"name": "X-Greenlight-Variant", "value": color}]}],
         "backendRefs": [refs[color]]}
        for color in COLORS
    ]  # fmt: skip
    weighted = [{**refs["blue"], "weight": 100}, {**refs["green"], "weight": 0}]
    metadata = {"name": "greenlight", "namespace": "greenlight", "labels": {"app": "greenlight"}}
    spec = {"parentRefs": [{"name": "shared-gateway"}], "rules": [*pins, {"backendRefs": weighted}]}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": metadata,
        "spec": spec,
    }


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def deployment(color: str) -> dict[str, Any]:
    container = {"name": "service", "image": "ghcr.io/example/greenlight:bootstrap"}
    return {
        "metadata": {"name": f"greenlight-{color}", "generation": 1, "annotations": {}},
        "spec": {"replicas": 0, "template": {"metadata": {}, "spec": {"containers": [container]}}},
        "status": {"observedGeneration": 1},
    }


@dataclass
class FakeCluster:
    polls_until_available: int = 2
    deployments: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {color: deployment(color) for color in COLORS}
    )
    selector: dict[str, str] = field(default_factory=lambda: {"app": "greenlight", "color": "blue"})
    services: dict[str, FakeService] = field(default_factory=dict)
    # color -> the reason its container waits forever (ImagePullBackOff...)
    waiting_reason: dict[str, str] = field(default_factory=dict)
    patches: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    polls: dict[str, int] = field(default_factory=dict)
    service_factory: Any = None  # (color, version) -> FakeService
    route: dict[str, Any] | None = field(default_factory=httproute)  # None: no Gateway API
    calls: list[tuple[str, str]] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def connect(self, base: str) -> httpx.Client:
        return httpx.Client(base_url=f"https://kube.test{base}", transport=self.transport())

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        self.calls.append((method, path))
        if path.startswith(f"{NS}/services/greenlight-") and ":http/proxy" in path:
            return self._service_proxy(request, path)
        for pattern, route in self._routes():
            found = re.fullmatch(pattern, path)
            if found:
                return route(method, request, *found.groups())
        return httpx.Response(404, json={"message": f"no route {method} {path}"})

    def _routes(self) -> list[tuple[str, Any]]:
        return [
            (rf"{APPS}/deployments/greenlight-(blue|green)", self._deployment),
            (rf"{NS}/services/greenlight", self._router_service),
            (rf"{ROUTES}/greenlight", self._httproute),
            (rf"{NS}/pods", self._pods),
            (rf"{NS}/pods/greenlight-(blue|green)-0:3000/proxy/metrics", self._metrics),
        ]

    # -- Deployments ---------------------------------------------------------------------------

    def _deployment(self, method: str, request: httpx.Request, color: str) -> httpx.Response:
        item = self.deployments[color]
        if method == "PATCH":
            self._patch_deployment(color, item, request)
        else:
            self._progress(color, item)
        return httpx.Response(200, json=item)

    def _patch_deployment(self, color: str, item: dict[str, Any], request: httpx.Request) -> None:
        assert request.headers["content-type"] == STRATEGIC
        body = json.loads(request.content)
        self.patches.append((request.url.path, request.method, body))
        annotations = item["metadata"]["annotations"]
        for key, value in body["metadata"]["annotations"].items():
            annotations.pop(key, None) if value is None else annotations.__setitem__(key, value)
        item["spec"]["replicas"] = body["spec"]["replicas"]
        for container in body["spec"]["template"].get("spec", {}).get("containers", []):
            named = next(
                c
                for c in item["spec"]["template"]["spec"]["containers"]
                if c["name"] == container["name"]
            )
            named.update(container)
        item["metadata"]["generation"] += 1
        item["status"] = {"observedGeneration": item["metadata"]["generation"] - 1}
        self.polls[color] = 0
        if body["spec"]["replicas"] and self.service_factory:
            self.services[color] = self.service_factory(color, annotations.get(VERSION))

    def _progress(self, color: str, item: dict[str, Any]) -> None:
        """The rollout completes a few polls after a patch (never for a stuck color)."""
        self.polls[color] = self.polls.get(color, 0) + 1
        replicas = item["spec"]["replicas"]
        if self.polls[color] >= self.polls_until_available and color not in self.waiting_reason:
            item["status"] = {
                "observedGeneration": item["metadata"]["generation"], "replicas": replicas,
                "updatedReplicas": replicas, "availableReplicas": replicas,
            }  # fmt: skip

    # -- Services, pods, proxies -------------------------------------------------------------

    def _router_service(self, method: str, request: httpx.Request) -> httpx.Response:
        if method == "PATCH":
            body = json.loads(request.content)
            self.patches.append((request.url.path, method, body))
            self.selector.update(body["spec"]["selector"])
        return httpx.Response(200, json={"spec": {"selector": copy.deepcopy(self.selector)}})

    def _httproute(self, method: str, request: httpx.Request) -> httpx.Response:
        if self.route is None:
            return httpx.Response(404, json={"message": "the server could not find the resource"})
        if method == "PATCH":
            assert request.headers["content-type"] == MERGE  # a custom resource: no strategic merge
            body = json.loads(request.content)
            self.patches.append((request.url.path, method, body))
            self.route = merge_patch(self.route, body)
        return httpx.Response(200, json=copy.deepcopy(self.route))

    def weights(self) -> dict[str, int]:
        assert self.route is not None
        (default,) = [rule for rule in self.route["spec"]["rules"] if "matches" not in rule]
        return {
            ref["name"].removeprefix("greenlight-"): ref["weight"] for ref in default["backendRefs"]
        }

    def pins(self) -> dict[str, list[str]]:
        assert self.route is not None
        return {
            rule["matches"][0]["headers"][0]["value"]: [ref["name"] for ref in rule["backendRefs"]]
            for rule in self.route["spec"]["rules"]
            if "matches" in rule
        }

    def route_annotations(self) -> dict[str, str]:
        assert self.route is not None
        return dict(self.route["metadata"].get("annotations") or {})

    def _pods(self, method: str, request: httpx.Request) -> httpx.Response:
        color = request.url.params["labelSelector"].split("color=")[1]
        running = self.deployments[color]["spec"]["replicas"] > 0
        waiting = self.waiting_reason.get(color)
        status = (
            {"containerStatuses": [{"state": {"waiting": {"reason": waiting}}}]} if waiting else {}
        )
        items = (
            [{"metadata": {"name": f"greenlight-{color}-0"}, "status": status}] if running else []
        )
        return httpx.Response(200, json={"items": items})

    def _metrics(self, method: str, request: httpx.Request, color: str) -> httpx.Response:
        service = self.services[color]
        if service.predict_status >= 500:  # a failing service fails the traffic it keeps getting
            service.requests, service.errors = service.requests + 50, service.errors + 40
        ok, errors = service.requests - service.errors, service.errors
        lines = [
            f"# TYPE {METRIC} counter",
            f'{METRIC}{{endpoint="/predict",http_response_code="200"}} {ok}',
            f'{METRIC}{{endpoint="/predict",http_response_code="500"}} {errors}',
            f'{METRIC}{{endpoint="/readyz",http_response_code="200"}} 7',
        ]
        return httpx.Response(200, text="\n".join(lines) + "\n")

    def _service_proxy(self, request: httpx.Request, path: str) -> httpx.Response:
        color = path.split("services/greenlight-")[1].split(":", maxsplit=1)[0]
        service = self.services.get(color)
        if service is None or not self.deployments[color]["spec"]["replicas"]:
            return httpx.Response(503, json={"message": "no endpoints available for service"})
        inner = "/" + path.split(":http/proxy/", 1)[1]
        forwarded = httpx.Request(request.method, f"http://pod{inner}", content=request.content)
        return service.handle(forwarded)

    def image(self, color: str) -> str:
        return self.deployments[color]["spec"]["template"]["spec"]["containers"][0]["image"]

    def annotations(self, color: str) -> dict[str, str]:
        return self.deployments[color]["metadata"]["annotations"]


__all__ = ["SOURCE", "FakeCluster"]
