"""deploy.yml does what the release process promises (the generic invariants of every workflow
are checked in tests/workflows), and the make targets it calls refuse to run half-configured."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"


def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_it_runs_after_a_merge_and_by_hand_for_a_chosen_commit() -> None:
    events = workflow()[True]  # YAML 1.1 reads `on` as True
    assert events["push"] == {"branches": ["main"]}
    assert events["workflow_dispatch"]["inputs"]["ref"]["required"] is True


def test_deployments_never_overlap_and_are_never_cancelled_halfway() -> None:
    concurrency = workflow()["concurrency"]
    assert "${{" not in concurrency["group"]  # one group for every run, whatever the ref
    assert concurrency["cancel-in-progress"] is False


def test_only_the_build_job_may_write_packages() -> None:
    jobs = workflow()["jobs"]
    assert jobs["build"]["permissions"]["packages"] == "write"
    assert {"id-token", "attestations"} <= set(jobs["build"]["permissions"])
    assert "packages" not in jobs["deploy"]["permissions"]
    assert runs(jobs["build"])[0].startswith("make deploy-image")
    attest = jobs["build"]["steps"][-1]
    assert attest["uses"].startswith("actions/attest-build-provenance@")
    assert attest["with"]["push-to-registry"] is True


def test_the_rollout_waits_for_production_approval_and_uses_its_credentials() -> None:
    deploy = workflow()["jobs"]["deploy"]
    assert deploy["environment"] == "production" and deploy["needs"] == "build"
    step = next(step for step in deploy["steps"] if "deploy-kubernetes" in step.get("run", ""))
    assert step["env"]["IMAGE"] == "${{ needs.build.outputs.image }}"
    token = step["env"]["KUBE_TOKEN"]
    assert token.startswith("${{ secrets.")  # an environment secret, never a literal
    summary = deploy["steps"][-1]
    assert summary["run"] == "make deploy-summary" and summary["if"] == "always()"


def test_both_jobs_build_and_deploy_the_same_commit() -> None:
    for job in workflow()["jobs"].values():
        checkout = next(
            s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")
        )
        assert checkout["with"]["ref"] == "${{ inputs.ref || github.sha }}"


def make(target: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"IMAGE", "REGISTRY_TOKEN"}}
    return subprocess.run(
        ["make", "-s", "--no-print-directory", target], cwd=ROOT, capture_output=True,
        text=True, env={**environment, **env}, check=False, timeout=600,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("target", "message"),
    [("deploy-kubernetes", "IMAGE is not set"), ("deploy-push", "REGISTRY_TOKEN is not set")],
)
def test_the_ci_targets_name_what_is_missing(target: str, message: str) -> None:
    done = make(target)
    assert done.returncode != 0 and message in done.stderr
