"""`make bench-deploy` -> reports/deploy_bench.json: why the local target switches through HAProxy.

1. Two real `greenlight serve` processes (the bundle under two version names, so every answer
   says which color gave it) behind a proxy, keep-alive load through it, and the proxy switched
   back and forth: HAProxy through its runtime API, nginx by rewriting its upstream and
   reloading. Counted: every request, every failure, how long until the new color answers.
2. A whole local rollout (the controller, HAProxy, two real services) under the same load: how
   long it takes and how many requests fail (none should).
Everything listens on 127.0.0.1 (free ports); every process is stopped by its PID."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from string import Template
from typing import Any

from greenlight.deploy.audit import read_entries
from greenlight.deploy.controller import Controller, Outcome
from greenlight.deploy.runner import bundle_candidate
from greenlight.deploy.settings import DeploySettings, LocalSettings, WatchSettings
from greenlight.deploy.targets import processes
from greenlight.deploy.targets.base import COLORS, Color, other
from greenlight.deploy.targets.haproxy import ProxyLayout, RuntimeApi, render_config
from greenlight.deploy.targets.local import open_local
from greenlight.deploy.targets.proxy_host import haproxy_binary
from greenlight.files import write_json
from greenlight.localnet import free_port
from greenlight.manifest import read_manifest
from greenlight.paths import BUNDLE, REPORTS
from tools.harness.load import Answer, SteadyLoad
from tools.harness.server import RunningServer, wait_until_ready

RATE, CLIENTS = 50.0, 4  # requests/s through the proxy, keep-alive clients
SWITCHES, SWITCH_EVERY_S = 100, 0.3
READY_S, PROXY_READY_S = 300.0, 30.0  # services, proxies: seconds to answer /readyz
OUTPUT = REPORTS / "deploy_bench.json"
Switch = Callable[[Color], None]


def versioned_bundle(source: Path, root: Path, version: str) -> Path:
    """A copy of the bundle whose manifest names another version (the model is the same)."""
    bundle = Path(shutil.copytree(source, root / version))
    manifest = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps({**manifest, "model_version": version}))
    return bundle


def first_record(bundle: Path) -> dict[str, Any]:
    return dict(read_manifest(bundle)["known_answers"][0]["record"])


@contextmanager
def services(bundles: dict[Color, Path], logs: Path) -> Iterator[dict[Color, int]]:
    """A real service per color on a free port, ready; stopped by PID on the way out."""
    with ExitStack() as stack:
        started = {
            color: RunningServer.run(_serve_line(bundles[color], logs), None, READY_S)
            for color in COLORS
        }
        running = {color: stack.enter_context(server) for color, server in started.items()}
        yield {color: server.port for color, server in running.items()}


def _serve_line(bundle: Path, logs: Path) -> Callable[[int], list[str]]:
    """`greenlight serve` as the local target runs it (deploy.local.serve_command's default)."""

    def command(port: int) -> list[str]:
        values = {"python": sys.executable, "bundle": str(bundle), "port": str(port)}
        return LocalSettings().serve_line(**values, prediction_log=str(logs / f"{port}.jsonl"))

    return command


# -- the two ways to switch ---------------------------------------------------------------------


@contextmanager
def haproxy(ports: dict[Color, int], listen: int, root: Path) -> Iterator[Switch]:
    layout = ProxyLayout(listen, root / "haproxy.sock", root / "haproxy.pid", dict(ports), "blue")
    (root / "haproxy.cfg").write_text(render_config(layout, as_root=os.geteuid() == 0))
    command = [haproxy_binary(), "-db", "-f", str(root / "haproxy.cfg")]
    record = processes.spawn(command, root / "haproxy.log")
    try:
        wait_until_ready(f"http://127.0.0.1:{listen}", record, PROXY_READY_S, root / "haproxy.log")
        yield RuntimeApi(layout.socket).route
    finally:
        processes.stop_tree(record, grace_s=5.0)


NGINX_CONFIG = Path(__file__).with_name("nginx.conf.template")


@contextmanager
def nginx(ports: dict[Color, int], listen: int, root: Path) -> Iterator[Switch]:
    """nginx's way: rewrite the upstream, then a graceful reload (SIGHUP to the master)."""
    config = root / "nginx.conf"
    (root / "tmp").mkdir(exist_ok=True)

    def write(color: Color) -> None:
        template = Template(NGINX_CONFIG.read_text())
        config.write_text(template.substitute(root=root, port=ports[color], listen=listen))

    write("blue")
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    record = processes.spawn([str(binary), "-p", str(root), "-c", str(config)], root / "out.log")
    try:
        wait_until_ready(f"http://127.0.0.1:{listen}", record, PROXY_READY_S, root / "nginx.log")
        yield lambda color: (write(color), os.kill(record.pid, signal.SIGHUP))
    finally:
        processes.stop_tree(record, grace_s=5.0)


# -- measuring ---------------------------------------------------------------------------------


def switch_under_load(switch: Switch, listen: int, record: dict[str, Any]) -> dict[str, Any]:
    """Switch SWITCHES times under keep-alive load; count answers and time each switch."""
    seconds = SWITCHES * SWITCH_EVERY_S + 2.0
    with SteadyLoad(f"http://127.0.0.1:{listen}/predict", record, RATE, CLIENTS, seconds) as load:
        time.sleep(1.0)
        switched_at = _switch_repeatedly(switch)
        answers = load.stop()
    return {**summarize(answers), "switches": len(switched_at), **_takeover(answers, switched_at)}


def _switch_repeatedly(switch: Switch) -> list[tuple[float, Color]]:
    color: Color = "blue"
    switched_at = []
    for _ in range(SWITCHES):
        color = other(color)
        switched_at.append((time.time(), color))
        switch(color)
        time.sleep(SWITCH_EVERY_S)
    return switched_at


def _takeover(answers: Sequence[Answer], switched_at: list[tuple[float, Color]]) -> dict[str, Any]:
    """Milliseconds from each switch until the first request sent after it was answered by the
    new color (both colors run the same model; their version names tell them apart)."""
    delays = []
    for at, color in switched_at:
        first = next((a for a in answers if a.sent >= at and a.version == color), None)
        if first is not None:
            delays.append((first.done - at) * 1000)
    if not delays:
        return {"takeover_ms": None}
    return {
        "takeover_ms": {"median": round(statistics.median(delays), 2), "max": round(max(delays), 2)}
    }


def summarize(answers: Sequence[Answer]) -> dict[str, Any]:
    failed = [answer for answer in answers if not answer.ok]
    latencies = sorted((answer.done - answer.sent) * 1000 for answer in answers if answer.ok)
    kinds = Counter((answer.error or str(answer.status)).split(":")[0] for answer in failed)
    connections = {answer.connection for answer in answers if answer.connection is not None}
    return {
        "requests": len(answers),
        "failed": len(failed),
        "failures": dict(kinds),
        "client_connections": len(connections),  # > keep-alive clients: the proxy closed some
        "latency_ms": {"p50": _rank(latencies, 0.50), "p99": _rank(latencies, 0.99)},
    }


def _rank(ordered: Sequence[float], share: float) -> float | None:
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2) if ordered else None


def compare_proxies(bundles: dict[Color, Path], record: dict[str, Any], root: Path) -> dict:
    """HAProxy's runtime switch vs nginx's reload, against the same two running services."""
    proxies = {"haproxy_runtime_api": haproxy, "nginx_reload": nginx}
    results: dict[str, Any] = {}
    with services(bundles, root / "services") as ports:
        for name, proxy in proxies.items():
            if name.startswith("nginx") and not shutil.which("nginx", path="/usr/sbin:/usr/bin"):
                results[name] = {"skipped": "nginx is not installed"}
                continue
            listen, workdir = free_port(), root / name
            workdir.mkdir()
            with proxy(ports, listen, workdir) as switch:
                results[name] = switch_under_load(switch, listen, record)
    return results


def rollout_under_load(source: Path, root: Path, record: dict[str, Any]) -> dict[str, Any]:
    """`greenlight deploy --target local` of a second version while clients keep calling."""
    settings = rollout_settings(root / "rollout")
    versions = [versioned_bundle(source, root, version) for version in ("v1", "v2")]
    try:
        outcome, seconds, answers = _second_release_under_load(settings, versions, record)
    finally:
        with open_local(settings.local, start_proxy=False) as target:
            target.down()
    return {
        "decision": outcome.decision,
        "rollout_s": round(seconds, 2),
        "ready_s": _ready_seconds(settings.audit_log),
        "watch_window_s": settings.watch.window_s,
        **summarize(answers),
    }


def _second_release_under_load(
    settings: DeploySettings, versions: list[Path], record: dict[str, Any]
) -> tuple[Outcome, float, list[Answer]]:
    url = f"http://127.0.0.1:{settings.local.proxy_port}/predict"
    with open_local(settings.local) as target:
        controller = Controller(target, settings, echo=None)
        controller.deploy(bundle_candidate(versions[0]))
        with SteadyLoad(url, record, RATE, CLIENTS, max_seconds=READY_S + 120) as load:
            started = time.monotonic()
            outcome = controller.deploy(bundle_candidate(versions[1]))
            seconds = time.monotonic() - started
            answers = load.stop()
    return outcome, seconds, answers


def rollout_settings(root: Path) -> DeploySettings:
    local = LocalSettings(
        proxy_port=free_port(), metrics_port=free_port(), state_dir=root / "state"
    )
    return DeploySettings(
        readiness_deadline_s=READY_S,
        audit_log=root / "audit.jsonl",
        local=local,
        watch=WatchSettings(window_s=10.0),
    )


def _ready_seconds(audit_log: Path) -> float | None:
    ready = [entry for entry in read_entries(audit_log) if entry.step == "ready"]
    return round(float(ready[-1].details["s"]), 2) if ready else None


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gl-bench-") as tmp:
        root = Path(tmp)
        bundles = {color: versioned_bundle(BUNDLE, root, color) for color in COLORS}
        record = first_record(bundles["blue"])
        switching = compare_proxies(bundles, record, root)
        rollout = rollout_under_load(BUNDLE, root, record)
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load": {"requests_per_s": RATE, "keep_alive_clients": CLIENTS},
        "switching": {"switches": SWITCHES, "every_s": SWITCH_EVERY_S, **switching},
        "rollout": rollout,
    }
    write_json(OUTPUT, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
