"""Processes the local target starts: each in its own process group (a service may fork workers),
identified by pid AND start time so a recycled pid is never signalled, stopped by group."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

# Our own children, so their exit status can be read (and their zombies reaped) while we run.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ProcessRecord:
    pid: int
    started: float  # the process's creation time, as psutil reports it

    def to_json(self) -> dict[str, float]:
        return {"pid": self.pid, "started": self.started}


def spawn(
    command: Sequence[str], log_path: Path, env: dict[str, str] | None = None
) -> ProcessRecord:
    """Start `command` in a new session (its own process group), output appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env=env,
        )  # fmt: skip
    _CHILDREN[child.pid] = child
    return ProcessRecord(pid=child.pid, started=psutil.Process(child.pid).create_time())


def alive(record: ProcessRecord) -> bool:
    child = _CHILDREN.get(record.pid)
    if child is not None and child.poll() is not None:
        return False
    try:
        process = psutil.Process(record.pid)
        return process.create_time() == record.started and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def exit_reason(record: ProcessRecord) -> str | None:
    """None while the process runs; otherwise how it ended, when we can still tell."""
    if alive(record):
        return None
    child = _CHILDREN.get(record.pid)
    code = child.returncode if child is not None else None
    return f"process {record.pid} exited" + (f" with code {code}" if code is not None else "")


def stop_group(record: ProcessRecord, grace_s: float) -> None:
    """SIGTERM the process group, wait up to `grace_s` for the whole tree to end (a server may
    put its workers in groups of their own), then SIGKILL whatever is left of it."""
    if alive(record):
        tree = _tree(record)
        _signal_group(record.pid, signal.SIGTERM)
        leftover = _wait_gone(tree, grace_s)
        for process in leftover:
            _kill(process)
        _wait_gone(leftover, 5.0)
    child = _CHILDREN.pop(record.pid, None)
    if child is not None:
        child.poll()


def _tree(record: ProcessRecord) -> list[psutil.Process]:
    """The process, its descendants and the rest of its group, as they are now."""
    try:
        leader = psutil.Process(record.pid)
        members = [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        members = []
    known = {process.pid for process in members}
    others = [_process(pid) for pid in group_members(record.pid) if pid not in known]
    return members + [process for process in others if process is not None]


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return  # already gone


def _kill(process: psutil.Process) -> None:
    try:
        process.kill()  # psutil checks the pid still names the same process
    except psutil.NoSuchProcess:
        return


def _wait_gone(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Wait until none of `processes` runs (zombies count as gone); return those still running."""
    deadline = time.monotonic() + timeout_s
    while True:
        for child in _CHILDREN.values():
            child.poll()  # reap our own children, or their zombies look alive to some checks
        running = [process for process in processes if _running(process)]
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(0.1)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def group_members(group: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == group and process.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
        except ProcessLookupError:
            continue  # exited while we looked
    return members
