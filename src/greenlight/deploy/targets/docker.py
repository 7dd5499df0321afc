"""The docker target: blue/green of two containers of one image, `<prefix>-blue` and
`<prefix>-green`, pulled by digest, on the host network at a port of 127.0.0.1 each, behind
HAProxy on 127.0.0.1:<proxy_port> (a process of ours on the same host). The shape a small team
runs on one VM (what Kamal gives Rails apps), with what its proxy learned: a new color is
available only after several good /readyz answers in a row, the old one is drained (no new
requests, a deadline for those in flight) before `docker stop --time`, request bodies are
buffered at the proxy, and a client that hangs up is not an error of the service.

What runs is always asked of the engine: a container that died is dead in `status`, whatever
state.json remembers. Every container and volume it creates carries the label
`greenlight.dev/target=<prefix>`, so `down` removes exactly those."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import ClassVar

from greenlight.deploy.settings import DockerSettings
from greenlight.deploy.smoke import answers_ok
from greenlight.deploy.targets.base import COLORS, Color, Release, Slot, TargetState, other
from greenlight.deploy.targets.docker_engine import (
    LABEL,
    ContainerInfo,
    ContainerSpec,
    DockerCli,
    EngineError,
    check_digest_reference,
    check_user,
    describe,
    fill,
    run_args,
)
from greenlight.deploy.targets.docker_state import ContainerSlot, DockerState
from greenlight.deploy.targets.proxied import ProxiedTarget, split_of, split_shown
from greenlight.deploy.targets.state_dir import ReleaseModel, exclusive
from greenlight.errors import GreenlightError
from greenlight.files import write_text
from greenlight.localnet import free_port
from greenlight.manifest import MANIFEST

PREDICTION_LOG_ENV = "GREENLIGHT_PREDICTION_LOG"
LOG_TAIL_LINES = 200  # what is kept of a stopped container's output, under <state_dir>/logs/


class DockerTargetError(GreenlightError):
    """The docker target was asked for what it cannot do as set up (a remote engine, a port that
    differs from the running HAProxy's, a container not ours, the live color). An engine that
    fails or a container that is not running is an EngineError."""


def check_engine_is_local(environ: Mapping[str, str]) -> None:
    """The colors listen on 127.0.0.1 of the engine's host, and HAProxy runs beside this process:
    both must be this host. For a VM, run greenlight there (`make deploy-docker` does, over ssh)."""
    host = environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        raise DockerTargetError(
            f"DOCKER_HOST={host}: the docker target runs beside the engine (the containers listen "
            "on its 127.0.0.1, HAProxy runs next to them); run `greenlight deploy --target "
            "docker` on that host (`make deploy-docker` with DEPLOY_DOCKER_HOST does it over ssh)"
        )


@contextmanager
def open_docker(
    settings: DockerSettings, environ: Mapping[str, str] | None = None, start_proxy: bool = True
) -> Iterator[DockerTarget]:
    """The target with its lock held (one deployment at a time) and HAProxy running."""
    environment = dict(os.environ if environ is None else environ)
    check_engine_is_local(environment)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    engine = DockerCli(environment, timeout_s=settings.command_timeout_s)
    with exclusive(settings.state_dir / "lock"):
        target = DockerTarget(settings, engine)
        if start_proxy:
            target.ensure_proxy()
        yield target


@dataclass
class DockerTarget(ProxiedTarget):
    settings: DockerSettings
    engine: DockerCli
    name: str = "docker"
    restarted_proxy: str | None = None  # why ensure_proxy started a new HAProxy, if it did
    healthy: dict[Color, int] = field(default_factory=dict)  # consecutive good /readyz answers
    error: ClassVar[type[GreenlightError]] = DockerTargetError
    service: ClassVar[str] = "container"

    # -- naming and state ---------------------------------------------------------------------

    @property
    def label(self) -> str:
        return f"{LABEL}/target={self.settings.name_prefix}"

    def container_name(self, color: Color) -> str:
        return f"{self.settings.name_prefix}-{color}"

    def volume_name(self, color: Color) -> str:
        return f"{self.settings.name_prefix}-{color}-logs"

    def _load(self) -> DockerState:
        return DockerState.load(self.root / "state.json")

    # -- the router -------------------------------------------------------------------------

    def ensure_proxy(self) -> None:
        """Start HAProxy unless ours runs (every command, status included, restarts a dead one
        from its config, live color and all); refuse a changed proxy port."""
        state = self._load()
        if self.proxy.running(state.proxy):
            if state.proxy_port != self.settings.proxy_port:
                running = f"HAProxy already listens on port {state.proxy_port}"
                raise DockerTargetError(f"{running}; run `greenlight deploy down` first")
            return
        if state.proxy is not None:
            self.proxy.stop(state.proxy)  # anything left of it
            self.restarted_proxy = f"HAProxy {state.proxy.pid} had died"
        state.proxy = self.proxy.start(state.live, state.ports(), split_of(state))
        state.proxy_port = self.settings.proxy_port
        self._save(state)

    # -- the Target contract ----------------------------------------------------------------

    def state(self) -> TargetState:
        state = self._load()
        found = self.engine.inspect([self.container_name(color) for color in COLORS])
        slots = {color: self._slot(color, state.slots[color], found) for color in COLORS}
        router, split = self._router(state), split_shown(state)
        return TargetState(live=state.live, slots=slots, router=router, split=split)

    def _slot(self, color: Color, slot: ContainerSlot, found: dict[str, ContainerInfo]) -> Slot:
        release = slot.release.release() if slot.release else None
        info = found.get(self.container_name(color))
        if slot.container is None:
            return Slot(color, release, running=False, condition="stopped")
        ours = info if info is not None and info.id == slot.container else None
        running = ours is not None and ours.running
        return Slot(color, release, running, describe(ours))

    def _router(self, state: DockerState) -> str:
        if state.proxy is None:
            return "HAProxy stopped"
        where = f"HAProxy {state.proxy.pid} on 127.0.0.1:{state.proxy_port}"
        if not self.proxy.running(state.proxy):
            return f"{where}: dead"
        restarted = f" (restarted: {self.restarted_proxy})" if self.restarted_proxy else ""
        return f"{where}: running{restarted}"

    def start(self, color: Color, release: Release) -> None:
        """Pull the image by digest, check it does not run as root, and start its container."""
        state = self._load()
        self._refuse_live(state, color, "start")
        image = check_digest_reference(release.source)
        self.engine("pull", "--quiet", image)
        user = check_user(self.settings.user or self.engine.image_user(image), image)
        self._clear_name(color)
        port = free_port()
        spec = self._spec(color, release, port, user)
        self._ensure_volume(color)
        container = self.engine(*run_args(spec)).strip()
        source = ReleaseModel(version=release.version, source=image)
        state.slots[color] = ContainerSlot(release=source, port=port, container=container)
        self._save(state)  # recorded before anything else can fail, so a stop finds it
        self.healthy[color] = 0
        # in maintenance until the switch: no health checks, so it leaves it UP (a server left
        # in drain keeps being checked, and one still DOWN when routed to leaves no server)
        self.proxy.api.set_state(color, "maint")
        self.proxy.api.point(color, port)

    def _clear_name(self, color: Color) -> None:
        """Remove what is left of an earlier container of `color` (a dead one); refuse to touch
        a container of that name that we did not create."""
        name = self.container_name(color)
        info = self.engine.inspect([name]).get(name)
        if info is None:
            return
        if info.labels.get(f"{LABEL}/target") != self.settings.name_prefix:
            raise DockerTargetError(f"a container named {name} exists and is not ours; rename it")
        self.engine("rm", "--force", name)

    def _spec(self, color: Color, release: Release, port: int, user: str) -> ContainerSpec:
        settings, log_dir = self.settings, self.settings.log_dir
        return ContainerSpec(
            name=self.container_name(color),
            image=release.source,
            labels=self._labels(color, release),
            port=port,
            volume=self.volume_name(color),
            log_dir=log_dir,
            user=user if settings.user else None,  # else the image's own, already checked
            env={key: fill(value, port, log_dir) for key, value in settings.env.items()},
            args=[fill(part, port, log_dir) for part in settings.args],
            stop_grace_s=settings.stop_grace_s,
        )

    def _labels(self, color: Color, release: Release) -> dict[str, str]:
        prefix = self.settings.name_prefix
        return {
            f"{LABEL}/target": prefix,
            f"{LABEL}/color": color,
            f"{LABEL}/version": release.version,
        }

    def _ensure_volume(self, color: Color) -> None:
        volume = self.volume_name(color)
        if volume not in self.engine.labelled("volume", self.label):
            self.engine("volume", "create", "--label", self.label, volume)

    def _container(self, color: Color) -> ContainerInfo | None:
        slot = self._load().slots[color]
        info = self.engine.inspect([self.container_name(color)]).get(self.container_name(color))
        return info if info is not None and info.id == slot.container else None

    def available(self, color: Color) -> bool:
        """Its container runs and, before it first counts as available, /readyz answered 200
        `healthy_checks` times in a row (a model that warms up may answer once, then stall).
        After that (the watch asks every tick), a container that stops running is unavailable."""
        info = self._container(color)
        running = info is not None and info.running
        if self.healthy.get(color, 0) >= self.settings.healthy_checks:
            return running
        with self.client(color) as client:
            good = running and answers_ok(client, "/readyz")
        self.healthy[color] = self.healthy.get(color, 0) + 1 if good else 0
        return self.healthy[color] >= self.settings.healthy_checks

    def failure(self, color: Color) -> str | None:
        if self._load().slots[color].container is None:
            return f"{color} was never started"
        info = self._container(color)
        if info is not None and info.running:
            return None
        output = self._logs(color, lines=5).strip().replace("\n", " | ")
        return f"{describe(info)}; its output: {output or '(none)'}"

    def running(self, color: Color) -> bool:
        info = self._container(color)
        return info is not None and info.running

    def switch(self, color: Color) -> None:
        """Route new requests to `color`, only if its container runs and /readyz answers; the
        other color drains (in-flight requests finish there)."""
        info = self._container(color)
        with self.client(color) as client:
            if info is None or not info.running or not answers_ok(client, "/readyz"):
                raise EngineError(f"refusing to switch to {color}: {describe(info)}")
        state = self._load()
        old = state.slots[other(color)].container is not None  # drained only while it runs
        self.proxy.api.route(color, retire="drain" if old else "maint")
        self._routed(state, color)

    def stop(self, color: Color, keep: Release | None) -> None:
        """Drain `color` at the proxy (bounded by drain_s), `docker stop --time`, keep its last
        output under logs/, remove the container; the slot keeps `keep` for a rollback."""
        state = self._load()
        self._refuse_live(state, color, "stop")
        if state.slots[color].container is not None:
            self._drain(color)
            self._remove(color)
        release = ReleaseModel(version=keep.version, source=keep.source) if keep else None
        state.slots[color] = ContainerSlot(release=release)
        self._save(state)

    def feed(self, color: Color) -> None:
        return None  # the prediction log is in the container's volume: no shadow step here yet

    # -- a split's figures: each color's logs and manifest, copied out of its container -------

    def prediction_log(self, color: Color) -> Path:
        """This host's copy of `color`'s prediction log (`fetch_logs` refreshes it)."""
        return self.root / "logs" / color / "predictions.jsonl"

    def bundle(self, color: Color) -> Path:
        """This host's copy of the manifest of the bundle in `color`'s image."""
        return self.root / "logs" / color / "bundle"

    def fetch_logs(self) -> None:
        """Copy each running color's prediction and outcome logs (in its volume) and its bundle's
        manifest (in its image) to this host, in place of the copies of an earlier call."""
        for color in COLORS:
            if self.running(color):
                self._copy_out(color)

    def _copy_out(self, color: Color) -> None:
        inside = PurePosixPath(fill(self._logged_to(), 0, self.settings.log_dir))
        wanted = {
            self.prediction_log(color): inside,
            self.outcome_log(color): inside.with_name("outcomes.jsonl"),
            self.bundle(color) / MANIFEST: PurePosixPath(self.settings.bundle_dir, MANIFEST),
        }
        for here, there in wanted.items():
            here.parent.mkdir(parents=True, exist_ok=True)
            here.unlink(missing_ok=True)
            # a log not written yet is simply absent (what `docker cp` says of a missing path)
            self.engine("cp", f"{self.container_name(color)}:{there}", str(here), check=False)

    def _logged_to(self) -> str:
        """Where the service writes its prediction log in the container (the serving image's
        GREENLIGHT_PREDICTION_LOG, as settings.env sets it)."""
        return self.settings.env.get(PREDICTION_LOG_ENV, "{log_dir}/predictions.jsonl")

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _refuse_live(state: DockerState, color: Color, action: str) -> None:
        if state.live == color and state.slots[color].container is not None:
            raise DockerTargetError(f"refusing to {action} {color}: it is the live color")

    def _drain(self, color: Color) -> None:
        """No new requests to `color`; wait (bounded) for those in flight; then maintenance."""
        api = self.proxy.api
        api.set_state(color, "drain")
        deadline = time.monotonic() + self.settings.drain_s
        while api.in_flight(color) and time.monotonic() < deadline:
            time.sleep(0.1)
        api.set_state(color, "maint")

    def _remove(self, color: Color) -> None:
        name = self.container_name(color)
        self.engine("stop", "--time", str(round(self.settings.stop_grace_s)), name, check=False)
        write_text(self.root / "logs" / f"{color}.log", self._logs(color, LOG_TAIL_LINES))
        self.engine("rm", "--force", name, check=False)

    def _logs(self, color: Color, lines: int) -> str:
        try:
            return self.engine("logs", "--tail", str(lines), self.container_name(color))
        except EngineError as error:
            return f"(no output: {error})"

    def down(self) -> list[str]:
        """Remove both colors' containers and our volumes, stop HAProxy; the releases stay
        recorded. Returns what it removed; raises if anything of ours is left."""
        state = self._load()
        containers = self.engine.labelled("container", self.label)
        if containers:
            self.engine("rm", "--force", "--volumes", *containers)
        volumes = self.engine.labelled("volume", self.label)
        if volumes:
            self.engine("volume", "rm", "--force", *volumes)
        self.proxy.stop(state.proxy)
        for color in COLORS:
            state.slots[color] = ContainerSlot(release=state.slots[color].release)
        state.live, state.proxy, state.proxy_port = None, None, None
        state.split = None  # nothing serves: a split cannot outlive its colors
        self._save(state)
        self._check_nothing_left()
        return containers + volumes

    def _check_nothing_left(self) -> None:
        left = self.engine.labelled("container", self.label)
        left += self.engine.labelled("volume", self.label)
        if left:
            raise EngineError(f"still there after `down`: {left}; remove them by hand")
