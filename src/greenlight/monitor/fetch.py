"""`greenlight drift-fetch`: copy the prediction log from where the deployment ships it, with
`dvc get-url`, which reads a folder in a DVC remote (`remote://<name>/path`, with that remote's
configured credentials) and every URL DVC supports (s3://, gs://, azure://, https://, ssh://, a
local path; the cloud ones need their DVC plugin, e.g. dvc-s3). The source is a folder holding
`predictions.jsonl` and its rotated `.1`, `.2`... files, or one log file.

The copy lands in a scratch folder first; only once it holds a log do the local log files (and
nothing else in their folder) give way to it. A source DVC cannot read as given (an unknown URL
scheme, a remote that is not configured) is bad input (exit 2); a store that fails to answer is
InfrastructureError (exit 4): the source may be fine once the store is back."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from greenlight.errors import ConfigError, GreenlightError, InfrastructureError
from greenlight.monitor.errors import MissingLogError, NoLogShippedError
from greenlight.monitor.log_reader import log_files


def fetch_log(source: str, log_path: Path, what: str = "prediction log") -> list[Path]:
    """Replace the local log files at `log_path` by those at `source`; the files now there.
    `what` names the log in the errors (the prediction log, the outcome log)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=log_path.parent, prefix=".fetch-") as scratch:
        landed = Path(scratch) / "source"
        _get_url(source, landed, what)
        fetched = _fetched_files(landed, log_path.name, source, what)
        for stale in _local_files(log_path):
            stale.unlink()
        for file in fetched:
            file.replace(log_path.with_name(file.name if landed.is_dir() else log_path.name))
    return log_files(log_path)


def _get_url(source: str, target: Path, what: str) -> None:
    completed = subprocess.run(
        [_dvc(), "get-url", source, str(target)], capture_output=True, text=True, check=False
    )
    if completed.returncode == 0:
        return
    detail = " ".join((completed.stderr or completed.stdout).strip().splitlines()[-3:])
    if "does not exist" in detail:  # dvc's words for a path the remote does not hold
        raise NoLogShippedError(_not_shipped(source, what))
    failure = f"could not fetch the {what} from {source}: {detail}"
    if "config file error" in detail:  # dvc's words for a URL or remote it cannot use
        raise ConfigError(failure)
    raise InfrastructureError(failure)


def _fetched_files(landed: Path, name: str, source: str, what: str) -> list[Path]:
    if landed.is_file():
        return [landed]
    try:
        return log_files(landed / name)
    except MissingLogError as error:
        raise NoLogShippedError(_not_shipped(source, what)) from error


def _not_shipped(source: str, what: str) -> str:
    return (
        f"{source} holds no {what} yet: the deployment ships it there "
        "(`make ship-logs`, run by the target)"
    )


def _local_files(log_path: Path) -> list[Path]:
    try:
        return log_files(log_path)
    except MissingLogError:  # nothing local yet: nothing to replace
        return []


def _dvc() -> str:
    """The dvc installed beside this Python (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "dvc"
    found = str(beside) if beside.is_file() else shutil.which("dvc")
    if found is None:
        raise GreenlightError("dvc is not installed: run `make setup`")
    return found
