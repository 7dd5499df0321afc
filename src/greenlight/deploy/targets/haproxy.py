"""HAProxy as the local router: one frontend on 127.0.0.1, one backend with a server per color.
Traffic moves between colors through the runtime API (a unix socket) without a reload, so client
keep-alive connections are never closed by a switch (an nginx reload closes idle ones; see
`make bench-deploy`). HAProxy health-checks each color on /readyz: a color that stops answering
is DOWN (clients get a 503 at once instead of waiting on a dead port), which its Prometheus
exporter shows (`haproxy_server_status`, 127.0.0.1:<metrics_port>/metrics). The config file is
rewritten after every change, only so that a restarted HAProxy comes back in the same state.

An A/B split enables both colors with weights (the candidate's share in percent). A request is
pinned to a variant by its `X-Greenlight-Variant` header (blue, green, live or candidate: the
variants map, rewritten at runtime, names the color), else by a consistent hash of its
`X-Caller-Id` header (the same caller stays on one color), else weighted round robin. Every answer
says which color served it in `X-Greenlight-Variant`, and HAProxy logs one line per request
(`greenlight-request <color> <status> <ms>`) to its log: the per-variant latencies."""

from __future__ import annotations

import csv
import io
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from greenlight.deploy.targets.base import COLORS, Color, Traffic, other
from greenlight.errors import ConfigError, InfrastructureError

BACKEND = "colors"
UNUSED_PORT = 1  # a server with no service yet points here, and is in maintenance
SOCKET_PATH_MAX = 100  # unix socket paths are limited to ~108 bytes
RetireState = Literal["maint", "drain"]
FULL_WEIGHT = 100  # a color alone takes every request; in a split the weights are percentages
VARIANT_HEADER = "X-Greenlight-Variant"
CALLER_HEADER = "X-Caller-Id"
REQUEST_LOG_TAG = "greenlight-request"
# A color is DOWN within ~3 s of its last answer to /readyz (a check every second, every 1/4 s
# once one failed; 2 failures of 1 s), UP again after 2 good checks.
HEALTH = (
    "  option httpchk GET /readyz",
    "  timeout check 1s",
    "  default-server inter 1s fastinter 250ms fall 2 rise 2",
)


class ProxyError(InfrastructureError):
    """HAProxy is not installed, did not start, does not answer on its admin socket, refused a
    command or is not in the state we asked for."""


@dataclass(frozen=True)
class ProxyLayout:
    listen_port: int
    socket: Path
    pidfile: Path
    ports: dict[Color, int | None]
    live: Color | None
    metrics_port: int | None = None  # HAProxy's own Prometheus exporter; None: none
    variants: Path | None = None  # the map from X-Greenlight-Variant to a color; None: no pinning
    split: Color | None = None  # the candidate that takes a share beside `live`
    weights: Mapping[Color, int] = field(default_factory=lambda: dict.fromkeys(COLORS, FULL_WEIGHT))


def variant_map(live: Color | None) -> dict[str, Color]:
    """What each value of X-Greenlight-Variant pins to: a color, or live and candidate."""
    current: Color = live or "blue"
    return {"blue": "blue", "green": "green", "live": current, "candidate": other(current)}


def render_variants(live: Color | None) -> str:
    return "".join(f"{key} {color}\n" for key, color in variant_map(live).items())


def split_weights(candidate: Color, percent: int) -> dict[Color, int]:
    """Twice the percentages (HAProxy allows up to 256): twice the points on the hash ring, so the
    share of callers each color gets is closer to its weight."""
    scale = 2
    return {candidate: scale * percent, other(candidate): scale * (FULL_WEIGHT - percent)}


DEFAULTS = (
    "defaults",
    "  mode http",
    "  timeout connect 2s",
    "  timeout client 60s",
    "  timeout server 60s",
    "  timeout http-request 10s",
    "  timeout http-keep-alive 60s",
    "  # a reused idle server connection closed under us: resend (the request never arrived)",
    "  retries 3",
    "  retry-on conn-failure empty-response",
    "  # a request reaches a service only once its whole body has arrived: a slow client",
    "  # holds a proxy connection, never a worker (HAProxy answers 408 after http-request)",
    "  option http-buffer-request",
)


def render_config(layout: ProxyLayout, as_root: bool) -> str:
    """The whole config: no reload ever re-reads it; it only seeds a (re)started HAProxy."""
    if not layout.socket.is_absolute():  # HAProxy would read it as an address
        raise ConfigError(f"{layout.socket}: the admin socket path must be absolute")
    return "\n".join(
        [
            "# Written by `greenlight deploy --target local`; edits are overwritten.",
            *_global(layout, as_root),
            *DEFAULTS,
            *_frontend(layout),
            *_backend(layout),
            *_metrics(layout.metrics_port),
            "",
        ]
    )


def _global(layout: ProxyLayout, as_root: bool) -> list[str]:
    """The admin socket the runtime API speaks to, the pidfile, and never serving as root."""
    drop = ["  uid 65534", "  gid 65534"] if as_root else []
    socket_line = f"  stats socket {layout.socket} mode 600 level admin"
    log = "  log stdout format raw local0"  # HAProxy runs with -db: stdout is haproxy.log
    return ["global", socket_line, f"  pidfile {layout.pidfile}", log, *drop]


def _frontend(layout: ProxyLayout) -> list[str]:
    """The listener; a request's X-Greenlight-Variant becomes the color it is pinned to."""
    lines = ["frontend greenlight", f"  bind 127.0.0.1:{layout.listen_port}", "  log global"]
    lines.append(f'  log-format "{REQUEST_LOG_TAG} %s %ST %Ta"')  # no header, no record
    if layout.variants is not None:
        header = f"req.hdr({VARIANT_HEADER}),lower,map({layout.variants})"
        lines.append(f"  http-request set-var(txn.variant) {header}")
    return [*lines, f"  default_backend {BACKEND}"]


def _backend(layout: ProxyLayout) -> list[str]:
    """A server per color, health-checked; the live one enabled (and the candidate in a split)."""
    servers = [_server_line(color, layout) for color in COLORS]
    return [f"backend {BACKEND}", *_balance(), *HEALTH, *servers]


def _balance() -> list[str]:
    """Pinned by header, else by caller id (round robin without one); the answer names its color."""
    pins = [f"  use-server {color} if {{ var(txn.variant) -m str {color} }}" for color in COLORS]
    hashed = [f"  balance hdr({CALLER_HEADER})", "  hash-type consistent"]
    return [*hashed, *pins, f"  http-response set-header {VARIANT_HEADER} %[srv_name]"]


def _metrics(port: int | None) -> list[str]:
    """A read-only frontend on loopback: HAProxy's Prometheus exporter and its stats page."""
    if port is None:
        return []
    exporter = "  http-request use-service prometheus-exporter if { path /metrics }"
    stats = ["  stats enable", "  stats uri /stats", "  stats refresh 5s"]
    return ["frontend metrics", f"  bind 127.0.0.1:{port}", exporter, *stats]


def _server_line(color: Color, layout: ProxyLayout) -> str:
    port = layout.ports.get(color) or UNUSED_PORT
    state = "" if color in (layout.live, layout.split) else " disabled"
    weight = f" weight {layout.weights[color]}" if layout.split else ""
    return f"  server {color} 127.0.0.1:{port}{weight} check{state}"


def check_socket_path(path: Path) -> Path:
    if len(str(path)) > SOCKET_PATH_MAX:
        raise ConfigError(f"{path}: too long for a unix socket; choose a shorter state_dir")
    return path


@dataclass(frozen=True)
class RuntimeApi:
    """HAProxy's runtime API over its admin socket."""

    socket: Path
    timeout_s: float = 5.0

    def send(self, command: str) -> str:
        """HAProxy's answer; ProxyError when its socket is gone or does not answer in time."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(self.timeout_s)
                connection.connect(os.fspath(self.socket))
                connection.sendall(command.encode() + b"\n")
                return _read_all(connection)
        except OSError as error:
            raise ProxyError(f"HAProxy's admin socket {self.socket}: {error}") from error

    def point(self, color: Color, port: int) -> None:
        """Aim `color`'s server at a service port; it stays in maintenance until routed to."""
        self.send(f"set server {BACKEND}/{color} addr 127.0.0.1 port {port}")
        if self.stats()[color].get("addr") != f"127.0.0.1:{port}":
            raise ProxyError(f"HAProxy did not take port {port} for {color}")

    def route(self, color: Color, retire: RetireState = "maint") -> None:
        """Enable `color` first, then take the other out: never a moment with neither. `drain`
        (weight 0: no new requests, those in flight finish) keeps the old server up for them;
        `maint` takes it out of the backend (in-flight requests still finish)."""
        idle = other(color)
        server = f"set server {BACKEND}"
        self.send(f"{server}/{color} state ready; {server}/{idle} state {retire}")
        # the status' first word: with health checks it reads e.g. "DRAIN 1/3" while one runs;
        # a draining server that fails its checks reads DOWN, and gets no request either
        states = {name: row["status"] for name, row in self.stats().items()}
        first = {name: status.split(" ")[0] for name, status in states.items()}
        retired = {"MAINT"} if retire == "maint" else {"DRAIN", "DOWN"}
        if first[color] in {"MAINT", "DRAIN"} or first[idle] not in retired:
            raise ProxyError(f"HAProxy did not switch to {color}: server states {states}")
        self.weigh(dict.fromkeys(COLORS, FULL_WEIGHT))

    def split(self, candidate: Color, percent: int) -> None:
        """Both colors ready, the candidate weighted to take `percent` of unpinned traffic."""
        self.weigh(split_weights(candidate, percent))
        server = f"set server {BACKEND}"
        self.send(f"{server}/{candidate} state ready; {server}/{other(candidate)} state ready")
        rows = self.stats()
        states = {name: row["status"].split(" ")[0] for name, row in rows.items()}
        if {"MAINT", "DRAIN"} & set(states.values()):
            raise ProxyError(f"HAProxy did not enable both colors for the split: {states}")

    def weigh(self, weights: Mapping[Color, int]) -> None:
        """Set each color's weight; ProxyError naming the answer when HAProxy refuses one."""
        for color, weight in weights.items():
            answer = self.send(f"set server {BACKEND}/{color} weight {weight}").strip()
            if answer:
                raise ProxyError(f"HAProxy refused weight {weight} for {color}: {answer}")

    def has_map(self, path: Path) -> bool:
        """Whether the running HAProxy loaded the map file `path` (`show map` lists it)."""
        return str(path) in self.send("show map")

    def pin_variants(self, path: Path, live: Color | None) -> None:
        """Point `live` and `candidate` in the running variants map at their colors."""
        for key, color in variant_map(live).items():
            answer = self.send(f"set map {path} {key} {color}").strip()
            if answer:
                raise ProxyError(f"HAProxy refused the variants map entry {key}: {answer}")

    def set_state(self, color: Color, state: RetireState) -> None:
        self.send(f"set server {BACKEND}/{color} state {state}")

    def stats(self) -> dict[Color, dict[str, str]]:
        """`show stat` rows of the two color servers, by color."""
        text = self.send(f"show stat {BACKEND} 4 -1").removeprefix("# ")
        rows = {row["svname"]: row for row in csv.DictReader(io.StringIO(text))}
        missing = [color for color in COLORS if color not in rows]
        if missing:
            raise ProxyError(f"HAProxy has no server {missing} in {BACKEND}: {text[:200]!r}")
        return {color: rows[color] for color in COLORS}

    def traffic(self, color: Color) -> Traffic:
        return traffic_from(self.stats()[color])

    def in_flight(self, color: Color) -> int:
        return int(self.stats()[color]["scur"] or 0)


def traffic_from(row: dict[str, str]) -> Traffic:
    """Requests the server answered plus those that never reached it (failed connections);
    errors: 5xx answers, failed connections and broken responses. A client that hangs up (HAProxy
    logs 'CD', i.e. a 499) is in `cli_abrt`, never an error of the service."""
    count = {key: int(row.get(key) or 0) for key in ("req_tot", "hrsp_5xx", "econ", "eresp")}
    errors = count["hrsp_5xx"] + count["econ"] + count["eresp"]
    return Traffic(requests=count["req_tot"] + count["econ"], errors=errors)


def _read_all(connection: socket.socket) -> str:
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")
