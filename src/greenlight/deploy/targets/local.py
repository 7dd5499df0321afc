"""The local target: two `greenlight serve` processes on 127.0.0.1 behind HAProxy on
127.0.0.1:<proxy_port>. Everything lives under `state_dir`: state.json, the HAProxy config,
socket and log, each color's service log and prediction log, and a snapshot of every bundle
deployed (so a rollback can restart a version whose `models/bundle` has since been retrained)."""

from __future__ import annotations

import re
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from greenlight.deploy.settings import LocalSettings
from greenlight.deploy.targets import processes
from greenlight.deploy.targets.base import COLORS, Color, Release, Slot, TargetState
from greenlight.deploy.targets.haproxy import ProxyError
from greenlight.deploy.targets.local_state import LocalState, SlotModel
from greenlight.deploy.targets.logfeed import LogFeed
from greenlight.deploy.targets.proxied import ProxiedTarget, split_of, split_shown
from greenlight.deploy.targets.state_dir import ProcessModel, ReleaseModel, exclusive
from greenlight.errors import GreenlightError, InfrastructureError
from greenlight.files import sha256_file
from greenlight.localnet import free_port
from greenlight.manifest import MANIFEST


class LocalTargetError(GreenlightError):
    """The local target was asked for what it cannot do as set up (ports that differ from the
    running HAProxy's, the live color, not a bundle). An unavailable HAProxy is a ProxyError."""


@contextmanager
def open_local(
    settings: LocalSettings, start_proxy: bool = True, restart_only: bool = False
) -> Iterator[LocalTarget]:
    """The target with its lock held (one deployment at a time) and HAProxy running;
    `restart_only`: bring back a dead HAProxy, but start none where none ran (`deploy status`)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(settings.state_dir / "lock"):
        target = LocalTarget(settings)
        if start_proxy:
            target.ensure_proxy(restart_only)
        yield target


@dataclass
class LocalTarget(ProxiedTarget):
    settings: LocalSettings
    name: str = "local"
    restarted_proxy: str | None = None  # why ensure_proxy started a new HAProxy, if it did
    error: ClassVar[type[GreenlightError]] = LocalTargetError

    @property
    def metrics_port(self) -> int | None:
        return self.settings.metrics_port

    def _load(self) -> LocalState:
        return LocalState.load(self.root / "state.json")

    # -- the router -------------------------------------------------------------------------

    def ensure_proxy(self, restart_only: bool = False) -> None:
        """Start HAProxy unless ours is already running (every deploy command, status included,
        restarts a dead one from its config, live color and all); refuse changed ports."""
        state = self._load()
        if state.proxy and processes.alive(state.proxy.record()):
            self._refuse_other_ports(state)
            return
        if state.proxy:
            processes.stop_tree(state.proxy.record(), grace_s=2.0)  # anything left of it
            self.restarted_proxy = f"HAProxy {state.proxy.pid} had died"
        elif restart_only:
            return  # none ever ran here (or `deploy down` stopped it): nothing to bring back
        self._start_proxy(state)

    def _refuse_other_ports(self, state: LocalState) -> None:
        wanted = (self.settings.proxy_port, self.settings.metrics_port)
        if (state.proxy_port, state.metrics_port) != wanted:
            running = (
                f"HAProxy already listens on {state.proxy_port} (metrics {state.metrics_port})"
            )
            raise LocalTargetError(f"{running}, not {wanted}; run `greenlight deploy down` first")

    def _start_proxy(self, state: LocalState) -> None:
        state.proxy = self.proxy.start(state.live, state.ports(), split_of(state))
        state.proxy_port, state.metrics_port = self.settings.proxy_port, self.settings.metrics_port
        self._save(state)

    def down(self) -> list[int]:
        """Stop both colors' process trees and HAProxy; the releases stay recorded. Returns the
        pids that had to be killed; raises InfrastructureError if any process of ours survives."""
        state = self._load()
        records = [slot.process.record() for slot in state.slots.values() if slot.process]
        records += [state.proxy.record()] if state.proxy else []
        killed = [pid for record in records for pid in self._stop(record)]
        survivors = [pid for record in records for pid in processes.remaining(record)]
        for color in COLORS:
            state.slots[color] = state.slots[color].model_copy(update={"process": None})
        state.live, state.proxy, state.proxy_port, state.metrics_port = None, None, None, None
        state.split = None  # nothing serves: a split cannot outlive its colors
        self._save(state)
        if survivors:
            raise InfrastructureError(f"processes {survivors} survived SIGKILL; stop them by hand")
        return killed

    def _stop(self, record: processes.ProcessRecord) -> list[int]:
        return processes.stop_tree(record, self.settings.stop_grace_s)

    # -- the Target contract ----------------------------------------------------------------

    def state(self) -> TargetState:
        state = self._load()
        slots = {color: self._slot(color, state.slots[color], described=True) for color in COLORS}
        router = _proxy_condition(state, self.restarted_proxy) + self._health(state)
        return TargetState(live=state.live, slots=slots, router=router, split=split_shown(state))

    def _health(self, state: LocalState) -> str:
        """What HAProxy's health checks say of the live color (what its /metrics exports)."""
        if state.live is None or state.proxy is None or not processes.alive(state.proxy.record()):
            return ""
        try:
            row = self.proxy.api.stats()[state.live]
        except ProxyError as error:
            return f"; its health checks could not be read ({error})"
        check = f"{row.get('check_status') or 'no check'} {row.get('check_desc') or ''}".strip()
        return f"; live {state.live} is {row.get('status')} to its health checks ({check})"

    def _slot(self, color: Color, slot: SlotModel, described: bool = False) -> Slot:
        """Running means its supervisor runs; `described` adds the whole tree's condition (it
        reads every process's environment, so only `state()` asks for it)."""
        running = slot.process is not None and processes.alive(slot.process.record())
        release = slot.release.release() if slot.release else None
        condition = _slot_condition(slot, running) if described else None
        return Slot(color, release, running, condition)

    def start(self, color: Color, release: Release) -> None:
        state = self._load()
        self._refuse_live(state, color, "start")
        if self._slot(color, state.slots[color]).running:
            raise LocalTargetError(f"{color} is already running; stop it first")
        self._stop_process(state.slots[color])  # what is left of a dead one (orphaned workers)
        snapshot = self._snapshot(Path(release.source), release.version)
        port = free_port()
        command = self._command(snapshot, port, color)
        record = processes.spawn(command, self.root / "logs" / f"{color}.log")
        state.slots[color] = SlotModel(
            release=ReleaseModel(version=release.version, source=str(snapshot)),
            port=port,
            process=ProcessModel.of(record),
        )
        self._save(state)  # recorded before anything else can fail, so a stop finds it
        self.proxy.api.point(color, port)
        self._prune_releases(state)

    def _command(self, bundle: Path, port: int, color: Color) -> list[str]:
        values = {
            "python": sys.executable,
            "bundle": str(bundle),
            "port": str(port),
            "prediction_log": str(self.prediction_log(color)),
            "color": color,
        }
        return self.settings.serve_line(**values)

    def prediction_log(self, color: Color) -> Path:
        return self.root / "logs" / color / "predictions.jsonl"

    def bundle(self, color: Color) -> Path:
        release = self._load().slots[color].release
        if release is None:
            raise LocalTargetError(f"{color} holds no release")
        return Path(release.source)

    def running(self, color: Color) -> bool:
        return self._slot(color, self._load().slots[color]).running

    def available(self, color: Color) -> bool:
        return self.running(color)

    def failure(self, color: Color) -> str | None:
        slot = self._load().slots[color]
        if slot.process is None:
            return f"{color} was never started"
        reason = processes.exit_reason(slot.process.record())
        return f"{reason}; see {self.root / 'logs' / f'{color}.log'}" if reason else None

    def switch(self, color: Color) -> None:
        """All traffic to `color`; a split in progress ends."""
        state = self._load()
        self.proxy.api.route(color)
        self._routed(state, color)

    def stop(self, color: Color, keep: Release | None) -> None:
        state = self._load()
        self._refuse_live(state, color, "stop")
        self._drain(color)
        self._stop_process(state.slots[color])
        release = ReleaseModel(version=keep.version, source=keep.source) if keep else None
        state.slots[color] = SlotModel(release=release)
        self._save(state)

    def feed(self, color: Color) -> LogFeed:
        return LogFeed(self.prediction_log(color))

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _refuse_live(state: LocalState, color: Color, action: str) -> None:
        if state.live == color and state.slots[color].process is not None:
            raise LocalTargetError(f"refusing to {action} {color}: it is the live color")

    def _drain(self, color: Color) -> None:
        """Wait (bounded) for requests still in flight on `color` to finish before stopping it."""
        deadline = time.monotonic() + self.settings.stop_grace_s
        try:
            while self.proxy.api.in_flight(color) and time.monotonic() < deadline:
                time.sleep(0.1)
        except ProxyError:
            return  # no router to ask: the service's own graceful shutdown still finishes them

    def _stop_process(self, slot: SlotModel) -> None:
        if slot.process is None:
            return
        record = slot.process.record()
        processes.stop_tree(record, self.settings.stop_grace_s)
        survivors = processes.remaining(record)
        if survivors:
            raise InfrastructureError(f"processes {survivors} survived SIGKILL; stop them by hand")

    def _snapshot(self, bundle: Path, version: str) -> Path:
        """A private copy of the bundle under releases/, named by version and manifest hash."""
        releases = self.root / "releases"
        if bundle.resolve().parent == releases.resolve():
            return bundle
        manifest = bundle / MANIFEST
        if not manifest.is_file():
            raise LocalTargetError(f"{bundle}: not a model bundle (no {MANIFEST})")
        digest = sha256_file(manifest)[:12]
        target = releases / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', version)}-{digest}"
        if not target.is_dir():
            _copy_tree(bundle, target)
        return target

    def _prune_releases(self, state: LocalState) -> None:
        in_use = {Path(slot.release.source).name for slot in state.slots.values() if slot.release}
        snapshots = sorted((self.root / "releases").iterdir(), key=lambda p: p.stat().st_mtime)
        spare = [path for path in snapshots if path.name not in in_use and path.is_dir()]
        for path in spare[: max(0, len(snapshots) - self.settings.keep_releases)]:
            shutil.rmtree(path)


def _slot_condition(slot: SlotModel, running: bool) -> str:
    if slot.process is None:
        return "stopped"
    record = slot.process.record()
    count = len(processes.tree(record))
    if running:
        return f"running: supervisor {record.pid} and {count - 1} more processes"
    redeploy = "the next `greenlight deploy` replaces it"
    if count:
        left = f"{count} of its processes still run, unsupervised; {redeploy}"
        return f"dead: supervisor {record.pid} is gone; {left}"
    return f"dead: supervisor {record.pid} and every process it started are gone; {redeploy}"


def _proxy_condition(state: LocalState, restarted: str | None) -> str:
    if state.proxy is None:
        return "HAProxy stopped"
    where = f"HAProxy {state.proxy.pid} on 127.0.0.1:{state.proxy_port}"
    if not processes.alive(state.proxy.record()):
        return f"{where}: dead"
    return f"{where}: running" + (f" (restarted: {restarted})" if restarted else "")


def _copy_tree(source: Path, target: Path) -> None:
    """Copy to a temporary sibling and rename, so a half-copied snapshot is never used."""
    temporary = target.with_name(f".{target.name}.partial")
    shutil.rmtree(temporary, ignore_errors=True)
    shutil.copytree(source, temporary)
    temporary.rename(target)
