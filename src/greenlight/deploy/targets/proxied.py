"""What the local and the docker target share: HAProxy on this host (proxy_host.py) in front of
two colors on 127.0.0.1 ports, each color's port in state.json, and the A/B split through it. A
split is recorded in state.json first and in HAProxy's config (weights, both colors enabled)
after every change, so a restarted HAProxy comes back splitting; its variants map pins by header.
Each target says how its colors run, where their prediction and outcome logs are on this host,
and where the bundle that names a color's labels is (`fetch_logs` brings them there first)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Protocol

import httpx

from greenlight.deploy.audit import now_iso
from greenlight.deploy.targets.base import Color, Release, Split, TargetState, Traffic
from greenlight.deploy.targets.proxy_host import HostProxy, Weighed
from greenlight.deploy.targets.state_dir import ReleaseModel, SplitModel, StateFile
from greenlight.errors import GreenlightError
from greenlight.localnet import loopback_client


class HostSettings(Protocol):
    @property
    def state_dir(self) -> Path: ...

    @property
    def proxy_port(self) -> int: ...


class ProxiedTarget:
    """The shared half of a target behind our HAProxy; a subclass (a dataclass with `settings`)
    gives `_load`, `running`, `state`, `prediction_log` and `bundle` (and `metrics_port`)."""

    settings: HostSettings
    error: ClassVar[type[GreenlightError]] = GreenlightError  # the target's own refusals
    service: ClassVar[str] = "service"  # what a color runs, in errors

    @property
    def root(self) -> Path:
        # absolute: HAProxy reads a relative socket path as a host name, services run elsewhere
        return self.settings.state_dir.absolute()

    @property
    def proxy_port(self) -> int:
        return self.settings.proxy_port

    @property
    def metrics_port(self) -> int | None:
        return None  # HAProxy's Prometheus exporter; None: none

    def _load(self) -> StateFile:
        raise NotImplementedError

    def running(self, color: Color) -> bool:
        raise NotImplementedError

    def state(self) -> TargetState:
        raise NotImplementedError

    def prediction_log(self, color: Color) -> Path:
        raise NotImplementedError

    def bundle(self, color: Color) -> Path:
        """The bundle directory `color` serves (its manifest names the labels)."""
        raise NotImplementedError

    # -- the router ---------------------------------------------------------------------------

    @property
    def proxy(self) -> HostProxy:
        return HostProxy(self.root, self.proxy_port, self.metrics_port, self.variants)

    @property
    def variants(self) -> Path:
        return self.root / "variants.map"

    @property
    def proxy_log(self) -> Path:
        return self.proxy.log

    def _save(self, state: StateFile) -> None:
        state.save(self.root / "state.json")
        self.proxy.write_config(state.live, state.ports(), split_of(state))

    def client(self, color: Color) -> httpx.Client:
        port = self._load().ports()[color]
        if port is None:
            raise self.error(f"{color} has no {self.service}")
        return loopback_client(port)

    def traffic(self, color: Color) -> Traffic:
        return self.proxy.api.traffic(color)

    def _routed(self, state: StateFile, color: Color) -> None:
        """Record that all traffic goes to `color` (a split in progress ends) and point the
        running variants map's `live` and `candidate` at the colors they now mean."""
        state.live, state.split = color, None
        self._save(state)
        if self.proxy.api.has_map(self.variants):  # else an HAProxy started before pinning
            self.proxy.api.pin_variants(self.variants, color)

    # -- the split ----------------------------------------------------------------------------

    def split(self, candidate: Color, percent: int, replaced: Release | None) -> None:
        """`candidate` (running, not live) takes `percent` of the traffic beside the live color;
        `replaced` (what its color held before) is what a rollback of the split keeps there."""
        state = self._load()
        if state.live is None or state.live == candidate:
            raise self.error(f"a split needs a live color beside {candidate}")
        if not self.running(candidate):
            raise self.error(f"{candidate} is not running: nothing to split traffic to")
        kept = ReleaseModel(version=replaced.version, source=replaced.source) if replaced else None
        offset = self.proxy_log.stat().st_size if self.proxy_log.is_file() else 0
        started = {"started_at": now_iso(), "log_offset": offset, "replaced": kept}
        state.split = SplitModel(candidate=candidate, percent=percent, **started)
        self._save(state)  # recorded first: a failure below leaves a state `decide` can end
        self.proxy.api.split(candidate, percent)

    def current_split(self) -> SplitModel | None:
        return self._load().split

    def outcome_log(self, color: Color) -> Path:
        """Where `color`'s POST /feedback appends (beside its prediction log)."""
        return self.prediction_log(color).with_name("outcomes.jsonl")

    def fetch_logs(self) -> None:
        """Bring the colors' logs and bundles where prediction_log, outcome_log and bundle say
        (the local target's are there already)."""


def split_of(state: StateFile) -> Weighed:
    """The candidate and its percent while a split runs: what HAProxy's config weighs."""
    return (state.split.candidate, state.split.percent) if state.split else None


def split_shown(state: StateFile) -> Split | None:
    """The split in progress, as `TargetState.split` shows it."""
    model = state.split
    return Split(model.candidate, model.percent, model.started_at) if model else None
