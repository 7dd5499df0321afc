"""`greenlight ci check-pulled <path>`: is the DVC output at <path> in the workspace exactly what
the committed dvc.lock names? `dvc data status --json` hashes the workspace against dvc.lock; the
output must be neither modified, missing, nor absent from the cache (the pull failed).

The deploy job runs it after `dvc pull models/bundle`, so the image carries, byte for byte, the
model that the pull request's gate judged and main pushed to the team remote."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from greenlight.errors import CheckFailedError

DVC_TIMEOUT_S = 600
PROBLEMS = {
    "not_in_cache": "is not in the DVC cache: the pull found no such object on the remote",
    "modified": "differs from what dvc.lock names",
    "deleted": "is missing from the workspace",
    "not_in_remote": "is not on the remote",
}


class PulledError(CheckFailedError, ValueError):
    """The pulled output is not what dvc.lock names."""


def problems(status: dict[str, Any], path: str) -> list[str]:
    """What `dvc data status --json` says is wrong with `path` (a folder ends with '/')."""
    wanted = {path.rstrip("/"), path.rstrip("/") + "/"}
    found = []
    for section in (status, status.get("uncommitted") or {}):
        for key, reason in PROBLEMS.items():
            entries = section.get(key)
            if isinstance(entries, list) and wanted & set(entries):
                found.append(f"{path} {reason}")
    return found


def check_pulled(path: str, dvc: str = "dvc", repo: Path = Path()) -> None:
    command = [dvc, "data", "status", "--json"]
    done = subprocess.run(
        command, cwd=repo, capture_output=True, text=True, check=False, timeout=DVC_TIMEOUT_S
    )
    if done.returncode != 0:
        raise PulledError(f"dvc data status failed: {done.stderr.strip()}")
    if not (repo / path).exists():
        raise PulledError(f"{path} is missing from the workspace: dvc pull {path} first")
    found = problems(json.loads(done.stdout), path)
    if found:
        raise PulledError("; ".join(found))
