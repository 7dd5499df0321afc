"""Helpers for the deploy tests (imported by the test modules: a conftest.py here
would shadow the root `conftest` module that other tests import by name): bundles that describe a
version (and, for the stub service, how it misbehaves), and a private local target (HAProxy on a
free port, state in a short /tmp dir) torn down by PID after each test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from greenlight.deploy.audit import AuditEntry, read_entries
from greenlight.deploy.controller import Controller, Outcome
from greenlight.deploy.runner import bundle_candidate
from greenlight.deploy.settings import DeploySettings, LocalSettings, SmokeSettings, WatchSettings
from greenlight.deploy.targets.local import open_local
from greenlight.localnet import free_port

HERE = Path(__file__).parent
STUB = HERE / "stub_service.py"
STUB_COMMAND = (
    sys.executable, str(STUB), "--bundle", "{bundle}", "--port", "{port}",
    "--prediction-log", "{prediction_log}",
)  # fmt: skip
REAL_COMMAND = LocalSettings().serve_command
ANSWERS = [
    {"record": {"age": 30 + n, "workclass": "Private", "hours_per_week": 40}, "probability": p}
    for n, p in enumerate([0.1, 0.35, 0.62, 0.9, 0.48])
]


def haproxy_installed() -> bool:
    return bool(shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin"))


needs_haproxy = pytest.mark.skipif(
    not haproxy_installed(),
    reason="haproxy is not installed (the local target routes through it): apt-get install "
    "haproxy; in CI .ci/system-packages.sh installs it",
)


def stub_bundle(root: Path, version: str, **faults: Any) -> Path:
    """A bundle the stub service can serve: a manifest (version, known answers), plus faults."""
    bundle = root / version
    bundle.mkdir(parents=True)
    manifest = {"format": 1, "model_version": version, "known_answers": ANSWERS}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    if faults:
        (bundle / "stub.json").write_text(json.dumps(faults))
    return bundle


def real_bundle(source: Path, root: Path, version: str, answer_offset: float = 0.0) -> Path:
    """A copy of a trained bundle under another version name; `answer_offset` shifts the recorded
    known answers, i.e. the model no longer reproduces what training recorded."""
    bundle = Path(shutil.copytree(source, root / version))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["model_version"] = version
    for answer in manifest["known_answers"]:
        answer["probability"] = min(1.0, answer["probability"] + answer_offset)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    return bundle


def quick_settings(state: Path, command: tuple[str, ...], **overrides: Any) -> DeploySettings:
    ports = {"proxy_port": free_port(), "metrics_port": free_port()}
    local = LocalSettings(**ports, state_dir=state, serve_command=command)
    watch = WatchSettings(
        window_s=3.0, interval_s=0.5, error_window_s=2.0, min_requests=5, max_latency_ms=2000
    )
    fields: dict[str, Any] = {
        "readiness_deadline_s": 60.0, "audit_log": state / "audit.jsonl", "local": local,
        "watch": watch, "smoke": SmokeSettings(latency_budget_ms=2000, latency_requests=5),
    }  # fmt: skip
    return DeploySettings(**{**fields, **overrides})


@dataclass
class LocalRig:
    settings: DeploySettings
    bundles: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.local.proxy_port}/predict"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.local.metrics_port}/metrics"

    def audit(self) -> list[AuditEntry]:
        return read_entries(self.settings.audit_log)

    def with_settings(self, **updates: Any) -> LocalRig:
        return LocalRig(self.settings.model_copy(update=updates), self.bundles)

    def with_watch(self, **updates: Any) -> LocalRig:
        return self.with_settings(watch=self.settings.watch.model_copy(update=updates))


def deploy(rig: LocalRig, bundle: Path) -> Outcome:
    """One rollout of `bundle` on the rig's local target, as `greenlight deploy` runs it."""
    with open_local(rig.settings.local) as target:
        return Controller(target, rig.settings, echo=None).deploy(bundle_candidate(bundle))


RIG_MARK = "GREENLIGHT_TEST_RIG"  # in the environment of every process a rig's target starts


def marked_processes(mark: str) -> list[int]:
    """Running processes, found by scanning /proc (not through the target's state or its tags),
    whose environment carries `RIG_MARK=mark`, or whose ancestry leads to this test process."""
    needle = f"{RIG_MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            marked = needle in (entry / "environ").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone while we looked, or not ours to read
        if stat[0] != "Z" and (marked or _descends_from_us(int(stat[1]))):
            found.append(int(entry.name))
    return found


def _descends_from_us(parent: int) -> bool:
    while parent > 1:
        if parent == os.getpid():
            return True
        try:
            parent = int(Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            return False
    return False


@contextmanager
def local_rig(command: tuple[str, ...], bundles: Path, **overrides: Any) -> Iterator[LocalRig]:
    """A private local target; every process it started is stopped by PID on the way out, and
    then none may be left (a /proc scan for the rig's mark, which every one of them inherits).
    The state dir is short on purpose: HAProxy's admin socket lives there."""
    state = Path(tempfile.mkdtemp(prefix="gl-deploy-"))
    settings = quick_settings(state, command, **overrides)
    mark, before = uuid.uuid4().hex, os.environ.get(RIG_MARK)
    os.environ[RIG_MARK] = mark
    try:
        yield LocalRig(settings, bundles)
    finally:
        _restore(before)
        with open_local(settings.local, start_proxy=False) as target:
            target.down()
        shutil.rmtree(state, ignore_errors=True)
        _kill_and_fail(marked_processes(mark))


def _restore(before: str | None) -> None:
    if before is None:
        os.environ.pop(RIG_MARK, None)
    else:
        os.environ[RIG_MARK] = before


def _kill_and_fail(left: list[int]) -> None:
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    assert not left, f"processes {left} of this test outlived `deploy down` (now SIGKILLed)"
