"""HAProxy as a process of ours on this host, in front of two colors on 127.0.0.1 ports: its config
(haproxy.py), its start and its stop by PID. The local and docker targets both run it; its
config is rewritten after every change so that a restarted HAProxy comes back as it was."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from greenlight.deploy.targets import processes
from greenlight.deploy.targets.base import Color
from greenlight.deploy.targets.haproxy import (
    ProxyError,
    ProxyLayout,
    RuntimeApi,
    check_socket_path,
    render_config,
    render_variants,
    split_weights,
)
from greenlight.deploy.targets.state_dir import ProcessModel
from greenlight.files import write_text

PROXY_START_S = 10.0
Ports = Mapping[Color, int | None]
Weighed = tuple[Color, int] | None  # a split's candidate and its percent
INSTALL_HINT = (
    "haproxy is not installed (the local target routes through it): "
    "`sudo apt-get install haproxy` on Debian/Ubuntu, `brew install haproxy` on macOS"
)


def haproxy_binary() -> str:
    # Debian installs it in /usr/sbin, which is not on a normal user's PATH
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise ProxyError(INSTALL_HINT)
    return found


@dataclass(frozen=True)
class HostProxy:
    root: Path  # absolute: HAProxy reads a relative socket path as a host name
    port: int
    metrics_port: int | None = None  # its Prometheus exporter and stats page; None: none
    variants: Path | None = None  # the X-Greenlight-Variant map it pins by; None: no pinning

    @property
    def api(self) -> RuntimeApi:
        return RuntimeApi(check_socket_path(self.root / "haproxy.sock"))

    @property
    def log(self) -> Path:
        return self.root / "haproxy.log"

    def write_config(self, live: Color | None, ports: Ports, split: Weighed = None) -> None:
        """The config (and variants map) a restarted HAProxy reads; `split`: candidate, percent."""
        if self.variants is not None:
            write_text(self.variants, render_variants(live))
        layout = ProxyLayout(
            listen_port=self.port,
            socket=self.api.socket,
            pidfile=self.root / "haproxy.pid",
            ports=dict(ports),
            live=live,
            metrics_port=self.metrics_port,
            variants=self.variants,
            **({"split": split[0], "weights": split_weights(*split)} if split else {}),
        )
        config = render_config(layout, as_root=os.geteuid() == 0)
        write_text(self.root / "haproxy.cfg", config)

    def start(self, live: Color | None, ports: Ports, split: Weighed = None) -> ProcessModel:
        """Start HAProxy from a fresh config and wait for its admin socket to answer."""
        binary = haproxy_binary()
        self.write_config(live, ports, split)
        self.api.socket.unlink(missing_ok=True)
        record = processes.spawn([binary, "-db", "-f", str(self.root / "haproxy.cfg")], self.log)
        deadline = time.monotonic() + PROXY_START_S
        while time.monotonic() < deadline and processes.alive(record):
            try:
                self.api.send("show info")
                return ProcessModel.of(record)
            except ProxyError:
                time.sleep(0.1)
        processes.stop_tree(record, grace_s=2.0)
        raise ProxyError(f"HAProxy did not start on port {self.port}: {self._tail()}")

    @staticmethod
    def running(model: ProcessModel | None) -> bool:
        return model is not None and processes.alive(model.record())

    @staticmethod
    def stop(model: ProcessModel | None, grace_s: float = 5.0) -> list[int]:
        """Stop HAProxy's process tree; the pids that needed SIGKILL."""
        return processes.stop_tree(model.record(), grace_s) if model is not None else []

    def _tail(self, lines: int = 5) -> str:
        if not self.log.is_file():
            return "(no log)"
        return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
