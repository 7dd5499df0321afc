"""Processes the rehearsal starts, through greenlight's own process helper (the one the local and
docker targets use, `greenlight.deploy.targets.processes`): each in its own session, tagged, and
stopped with its whole tree (the tag finds the processes act's steps start in sessions of their
own). Nothing is left running, also when the rehearsal fails or is interrupted."""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from greenlight.deploy.targets import processes
from greenlight.deploy.targets.processes import ProcessRecord

STOP_GRACE_S = 10.0


@contextlib.contextmanager
def running(
    argv: Sequence[str], log: Path, env: Mapping[str, str], cwd: Path | None = None
) -> Iterator[ProcessRecord]:
    """A background process for the duration of the block, its output appended to `log`."""
    record = processes.spawn(argv, log, env, cwd)
    try:
        yield record
    finally:
        processes.stop_tree(record, STOP_GRACE_S)


def wait_http(url: str, record: ProcessRecord, timeout_s: float = 60.0) -> None:
    """Until `url` answers any HTTP status; fails early if the process ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ended = processes.exit_reason(record)
        if ended is not None:
            raise RuntimeError(f"{ended} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own http:// URL)
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


def run_captured(
    argv: Sequence[str], log: Path, env: Mapping[str, str], cwd: Path, timeout_s: float
) -> tuple[int, str, float]:
    """Run to completion in its own session (the tree is stopped on timeout or interruption);
    the exit code (124 on timeout), its output (also written to `log`) and its seconds."""
    log.unlink(missing_ok=True)
    start = time.monotonic()
    with running(argv, log, env, cwd) as record:
        try:
            code = processes.wait_exit(record, timeout_s)
        except subprocess.TimeoutExpired:
            code = 124
    return code, log.read_text(errors="replace"), time.monotonic() - start
