"""`greenlight ship-logs`: copy the deployment's prediction log to where drift reads it.

The log folder is mirrored to the target: `predictions.jsonl` (up to its last complete line: the
service may be writing it) and each rotated `predictions.jsonl.N`; a rotated file the target holds
but the deployment no longer has is removed, so the target looks like the folder did at that
moment, and `greenlight drift-fetch` brings it back as it was. The target is any fsspec URL
(`s3://`, `file://`, a local path) or `remote://<dvc remote>/<folder>`, which uses that remote's
URL and its endpoint, region and profile from .dvc/config (the default drift.source,
`remote://team/prediction-logs`, is the team remote's log prefix). Credentials come from the
environment, as for DVC. A target that cannot be reached or written is InfrastructureError (exit
4), naming the target: the log stays where it is and the next run ships it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from greenlight.errors import ConfigError, InfrastructureError
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
    url, options = resolve(target, remotes)
    files = log_files(log_path)
    try:
        _mirror(files, log_path, url, options)
    except storage_errors() as error:
        raise InfrastructureError(f"could not ship {log_path.name} to {target}: {error}") from error
    return [file.name for file in files]


def _mirror(files: list[Path], log_path: Path, url: str, options: dict[str, Any]) -> None:
    import fsspec  # noqa: PLC0415

    fs, root = fsspec.core.url_to_fs(url, **options)
    fs.makedirs(root, exist_ok=True)
    for file in files:
        data = file.read_bytes()
        fs.pipe_file(f"{root}/{file.name}", complete_lines(data) if file == log_path else data)
    remote_names = [Path(entry).name for entry in fs.ls(root, detail=False)]
    for name in stale(remote_names, {file.name for file in files}, log_path.name):
        fs.rm_file(f"{root}/{name}")


def storage_errors() -> tuple[type[Exception], ...]:
    """What a store's client raises when it cannot be reached or refuses: OSError from every
    fsspec file system, and botocore's own errors, which s3fs passes on for a connection that
    fails (an endpoint that is down, a DNS name that does not resolve)."""
    try:
        from botocore.exceptions import BotoCoreError  # noqa: PLC0415
    except ModuleNotFoundError:  # no S3 support installed: no S3 errors to expect
        return (OSError,)
    return (OSError, BotoCoreError)


def dvc_remotes(repo: Path = Path()) -> dict[str, dict[str, Any]]:
    """Every DVC remote of the checkout with its settings (relative URLs made absolute)."""
    from dvc.repo import Repo  # noqa: PLC0415

    with Repo(str(repo)) as dvc_repo:
        return {name: dict(settings) for name, settings in dvc_repo.config["remote"].items()}
