#!/usr/bin/env python3
"""The self-hosted runner's job-started hook: refuse any pull-request job from a fork.

The runner runs this before every job (ACTIONS_RUNNER_HOOK_JOB_STARTED=<this file> in the runner's
.env, see docs/self-hosted-runner.md). It reads the event payload at GITHUB_EVENT_PATH and exits 1,
so the job fails before a single step runs, when a `pull_request` or `pull_request_target` job's
head repository is not the base repository. Unlike an `if:` in the workflow, a pull request cannot
edit it: it lives on the machine, not in the repository. Python 3 standard library only."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

PR_EVENTS = {
    "pull_request",
    "pull_request_target",
    "pull_request_review",
    "pull_request_review_comment",
}


def refusal(event_name: str, payload: dict[str, Any]) -> str | None:
    """Why this job must not run here, or None when it may."""
    if event_name not in PR_EVENTS:
        return None
    pull = payload.get("pull_request")
    if not isinstance(pull, dict):
        return f"a {event_name} event without a pull_request in its payload"
    head = _full_name(pull, "head")
    base = _full_name(pull, "base")
    if head is None or base is None:
        return f"pull request #{pull.get('number')}: its head repository is unknown (deleted fork?)"
    if head.lower() != base.lower():
        return f"pull request #{pull.get('number')} comes from the fork {head}, not {base}"
    return None


def _full_name(pull: dict[str, Any], side: str) -> str | None:
    repo = (pull.get(side) or {}).get("repo")
    name = repo.get("full_name") if isinstance(repo, dict) else None
    return name if isinstance(name, str) and name else None


def _payload(event_path: str) -> dict[str, Any]:
    path = Path(event_path)
    if not event_path or not path.is_file():
        return {}
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # unreadable or not JSON: judged as a payload without a PR
        return {}
    return payload if isinstance(payload, dict) else {}


def main() -> int:
    event_name = os.environ.get("GITHUB_EVENT_NAME", "")
    payload = _payload(os.environ.get("GITHUB_EVENT_PATH", ""))
    reason = refusal(event_name, payload)
    if reason is not None:
        print(f"job-started hook: refused on this self-hosted runner: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
