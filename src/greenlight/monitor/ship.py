"""`greenlight ship-logs`: copy the deployment's prediction log to where drift reads it.

The log folder is mirrored to the target: `predictions.jsonl` (up to its last complete line: the
service may be writing it) and each rotated `predictions.jsonl.N`; a rotated file the target holds
but the deployment no longer has is removed, so the target looks like the folder did at that
moment, and `greenlight drift-fetch` brings it back as it was. The target is any fsspec URL
(`s3://`, `file://`, a local path) or `remote://<dvc remote>/<folder>`, which uses that remote's
URL and its endpoint, region and profile from .dvc/config (the default drift.source,
`remote://team/prediction-logs`, is the team remote's log prefix). Credentials come from the
environment, as for DVC."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from greenlight.errors import ConfigError
from greenlight.monitor.log_reader import log_files

STORAGE_OPTIONS = {"endpointurl": "endpoint_url", "region": "region", "profile": "profile"}


def resolve(target: str, remotes: Mapping[str, Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The fsspec URL and storage options of a target; remote://name/folder through .dvc/config."""
    if not target.startswith("remote://"):
        return target.rstrip("/"), {}
    name, _, folder = target.removeprefix("remote://").partition("/")
    if name not in remotes:
        known = ", ".join(sorted(remotes)) or "none"
        raise ConfigError(
            f"{target}: no DVC remote {name!r} (configured: {known}); see make remote"
        )
    remote = remotes[name]
    url = str(remote["url"]).rstrip("/") + (f"/{folder.strip('/')}" if folder.strip("/") else "")
    options = {key: remote[dvc] for dvc, key in STORAGE_OPTIONS.items() if remote.get(dvc)}
    return url, options


def complete_lines(data: bytes) -> bytes:
    """The bytes up to and including the last newline: never half a JSON line."""
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""


def stale(remote_names: list[str], local_names: set[str], log_name: str) -> list[str]:
    """Log files at the target that the deployment no longer has (rotated away)."""
    pattern = re.compile(rf"^{re.escape(log_name)}(\.\d+)?$")
    return sorted(name for name in remote_names if pattern.match(name) and name not in local_names)


def ship_logs(log_path: Path, target: str, remotes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Mirror the log files at `log_path` to `target`; the names written."""
    import fsspec  # noqa: PLC0415

    url, options = resolve(target, remotes)
    fs, root = fsspec.core.url_to_fs(url, **options)
    fs.makedirs(root, exist_ok=True)
    files = log_files(log_path)
    for file in files:
        data = file.read_bytes()
        fs.pipe_file(f"{root}/{file.name}", complete_lines(data) if file == log_path else data)
    remote_names = [Path(entry).name for entry in fs.ls(root, detail=False)]
    for name in stale(remote_names, {file.name for file in files}, log_path.name):
        fs.rm_file(f"{root}/{name}")
    return [file.name for file in files]


def dvc_remotes(repo: Path = Path()) -> dict[str, dict[str, Any]]:
    """Every DVC remote of the checkout with its settings (relative URLs made absolute)."""
    from dvc.repo import Repo  # noqa: PLC0415

    with Repo(str(repo)) as dvc_repo:
        return {name: dict(settings) for name, settings in dvc_repo.config["remote"].items()}
