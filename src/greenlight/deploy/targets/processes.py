"""Processes the local target starts, tracked as whole trees. A service forks workers that
BentoML puts in process groups of their own, and a worker outlives a killed supervisor (it is
re-parented, not stopped), so neither the pid nor the process group finds all of them. Each
spawned process gets a tag in its environment (GREENLIGHT_PROCESS_TAG), which every process it
starts inherits: the tree is every process of ours that carries the tag, whoever its parent is
now. Processes are identified by pid AND start time, so a recycled pid is never signalled."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

TAG_VARIABLE = "GREENLIGHT_PROCESS_TAG"
# Our own children, so their exit status can be read (and their zombies reaped) while we run.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ProcessRecord:
    pid: int
    started: float  # the process's creation time, as psutil reports it
    tag: str = ""  # its environment's GREENLIGHT_PROCESS_TAG ("" for records from before tags)

    def to_json(self) -> dict[str, float | str]:
        return {"pid": self.pid, "started": self.started, "tag": self.tag}


def spawn(
    command: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ProcessRecord:
    """Start `command` (in `cwd`) in a new session (its own process group), output appended to
    `log_path`, tagged so that every process it starts can be found later."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex
    environment = {**(os.environ if env is None else env), TAG_VARIABLE: tag}
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=environment,
            cwd=cwd,
        )
    _CHILDREN[child.pid] = child
    started = psutil.Process(child.pid).create_time()
    return ProcessRecord(pid=child.pid, started=started, tag=tag)


def alive(record: ProcessRecord) -> bool:
    """Whether the process itself (the supervisor of a service) still runs."""
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


def wait_exit(record: ProcessRecord, timeout_s: float) -> int:
    """The exit status of our own child `record`, once it has ended by itself (waits up to
    `timeout_s`; subprocess.TimeoutExpired if it has not)."""
    child = _CHILDREN.get(record.pid)
    if child is None:
        raise ProcessLookupError(f"process {record.pid} was not started by this process")
    return child.wait(timeout_s)


def tree(record: ProcessRecord) -> list[psutil.Process]:
    """Every running process of the record's tree: the tagged ones, wherever they are now, plus
    the process, its descendants and its group (all a record from before tags can find)."""
    found = {process.pid: process for process in _family(record)}
    found.update({process.pid: process for process in tagged(record.tag)})
    return [process for process in found.values() if _running(process)]


def tagged(tag: str) -> list[psutil.Process]:
    """Our own running processes whose environment carries `tag`."""
    if not tag:
        return []
    return [process for process in psutil.process_iter(["uids"]) if _carries(process, tag)]


def _carries(process: psutil.Process, tag: str) -> bool:
    try:
        uids = process.info["uids"]
        if uids is None or uids.real != os.getuid():
            return False
        return process.environ().get(TAG_VARIABLE) == tag
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False  # gone while we looked, or not ours to read


def stop_tree(record: ProcessRecord, grace_s: float) -> list[int]:
    """SIGTERM every member of the tree (workers in groups of their own included: a worker
    orphaned by a dead supervisor has nobody else to stop it; a supervised one also hears from its
    supervisor, and a second SIGTERM does not hurry uvicorn's graceful shutdown), wait up to
    `grace_s` for all of them, SIGKILL what is left, then anything the tree started meanwhile
    (a worker respawned in the race). Returns the pids that were killed."""
    members = tree(record)
    if alive(record):
        _signal_group(record.pid, signal.SIGTERM)
    _signal_each(members, signal.SIGTERM)
    leftover = _wait_gone(members, grace_s)
    leftover += [process for process in tree(record) if process not in leftover]
    _signal_each(leftover, signal.SIGKILL)
    _wait_gone(leftover, 5.0)
    child = _CHILDREN.pop(record.pid, None)
    if child is not None:
        child.poll()
    return [process.pid for process in leftover]


def remaining(record: ProcessRecord) -> list[int]:
    """The pids of the tree still running (after a stop: what survived it)."""
    return [process.pid for process in tree(record)]


def _family(record: ProcessRecord) -> list[psutil.Process]:
    """The process (if still the recorded one), its descendants and the rest of its group."""
    leader = _process(record.pid) if alive(record) else None
    members = [leader, *_children(leader)] if leader is not None else []
    known = {process.pid for process in members}
    others = [_process(pid) for pid in group_members(record.pid) if pid not in known]
    return members + [process for process in others if process is not None]


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


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


def _signal_each(members: Iterable[psutil.Process], signum: int) -> None:
    for process in members:
        try:
            process.send_signal(signum)  # psutil checks the pid still names the same process
        except psutil.NoSuchProcess:
            continue


def _wait_gone(members: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Wait until none of `members` runs (zombies count as gone); return those still running."""
    deadline = time.monotonic() + timeout_s
    while True:
        for child in _CHILDREN.values():
            child.poll()  # reap our own children, or their zombies look alive to some checks
        running = [process for process in members if _running(process)]
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
