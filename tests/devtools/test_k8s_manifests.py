"""deploy/k8s: valid against the real Kubernetes schemas, complete, hardened, and consistent with
what the kubernetes target patches and reaches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from greenlight.deploy.settings import KubernetesSettings
from tools.devtools.k8s_manifests import VERSIONS, documents, main, problems

K8S = Path(__file__).parents[2] / "deploy" / "k8s"
MANIFESTS = sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")
SETTINGS = KubernetesSettings()


def resources() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (document["kind"], document["metadata"]["name"]): document
        for path in MANIFESTS
        for document in documents(path)
    }


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_every_manifest_validates_strictly_against_each_supported_version(path: Path) -> None:
    assert problems(path, VERSIONS) == []


def test_a_manifest_with_an_unknown_field_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    document = yaml.safe_load((K8S / "service.yaml").read_text())
    document["spec"]["selectr"] = {"app": "greenlight"}
    bad.write_text(yaml.safe_dump(document))
    found = problems(bad)
    assert len(found) == len(VERSIONS) and "selectr" in found[0]
    assert main([str(bad)]) == 1


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [path.name for path in MANIFESTS]


@pytest.mark.parametrize("color", ["blue", "green"])
def test_each_color_is_what_the_target_expects_and_is_hardened(color: str) -> None:
    deployment = resources()[("Deployment", f"{SETTINGS.app}-{color}")]
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": SETTINGS.app, "color": color}
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["name"] == SETTINGS.container
    assert container["ports"] == [{"name": "http", "containerPort": SETTINGS.container_port}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert {"requests", "limits"} <= set(container["resources"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    hardening = container["securityContext"]
    assert hardening["readOnlyRootFilesystem"] is True
    assert hardening["allowPrivilegeEscalation"] is False
    assert hardening["capabilities"]["drop"] == ["ALL"]
    service = resources()[("Service", f"{SETTINGS.app}-{color}")]
    assert service["spec"]["selector"] == {"app": SETTINGS.app, "color": color}
    assert service["spec"]["ports"][0]["name"] == "http"  # the target proxies to <service>:http


def test_the_live_service_selects_a_color_and_a_budget_protects_the_pods() -> None:
    found = resources()
    assert found[("Service", SETTINGS.app)]["spec"]["selector"]["color"] in {"blue", "green"}
    budget = found[("PodDisruptionBudget", SETTINGS.app)]
    assert budget["spec"]["selector"]["matchLabels"] == {"app": SETTINGS.app}


def test_the_deployer_may_only_read_and_patch_what_a_switch_needs() -> None:
    role = resources()[("Role", "greenlight-deployer")]
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    assert verbs <= {"get", "list", "patch", "create"}
    for rule in role["rules"]:
        assert "secrets" not in rule["resources"]
        if "patch" in rule["verbs"]:
            assert set(rule["resourceNames"]) <= {
                f"{SETTINGS.app}",
                f"{SETTINGS.app}-blue",
                f"{SETTINGS.app}-green",
            }
        if "create" in rule["verbs"]:
            assert rule["resources"] == ["services/proxy"]  # POST /predict of the smoke test


def _route() -> dict[str, Any]:
    return yaml.safe_load((K8S / "httproute.yaml").read_text())


def _problems_of(document: dict[str, Any], tmp_path: Path) -> list[str]:
    path = tmp_path / "route.yaml"
    path.write_text(yaml.safe_dump(document))
    return problems(path)


def test_the_route_validates_against_the_vendored_gateway_api_schema(tmp_path: Path) -> None:
    assert _problems_of(_route(), tmp_path) == []


def test_a_route_with_a_misspelt_field_is_rejected_naming_it(tmp_path: Path) -> None:
    route = _route()
    route["spec"]["rules"][2]["backendRefs"][0]["wieght"] = 50
    (found,) = _problems_of(route, tmp_path)
    assert "spec.rules.2.backendRefs.0" in found and "'wieght' was unexpected" in found


def test_a_weight_out_of_range_is_rejected_naming_it(tmp_path: Path) -> None:
    route = _route()
    route["spec"]["rules"][2]["backendRefs"][1]["weight"] = -1
    (found,) = _problems_of(route, tmp_path)
    assert "spec.rules.2.backendRefs.1.weight" in found and "minimum of 0" in found
    assert main([str(tmp_path / "route.yaml")]) == 1


def test_the_route_pins_by_color_and_weighs_the_color_services() -> None:
    route = resources()[("HTTPRoute", SETTINGS.route)]
    rules = route["spec"]["rules"]
    pinned = {
        rule["matches"][0]["headers"][0]["value"]: [ref["name"] for ref in rule["backendRefs"]]
        for rule in rules
        if "matches" in rule
    }
    assert pinned == {color: [f"{SETTINGS.app}-{color}"] for color in ("blue", "green")}
    (default,) = [rule for rule in rules if "matches" not in rule]
    weights = {ref["name"]: ref["weight"] for ref in default["backendRefs"]}
    assert weights == {f"{SETTINGS.app}-blue": 100, f"{SETTINGS.app}-green": 0}
    ports = {ref["port"] for rule in rules for ref in rule["backendRefs"]}
    color_service = resources()[("Service", f"{SETTINGS.app}-blue")]
    assert ports == {color_service["spec"]["ports"][0]["port"]}
