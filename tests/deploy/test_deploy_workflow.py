"""The make targets deploy.yml calls refuse to run half-configured. What the workflow itself does
(ref check first, rollback by digest, approval, login until the attestation) is evaluated in
tests/workflows/test_workflow_behaviour.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"


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
