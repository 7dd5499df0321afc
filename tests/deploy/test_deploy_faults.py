"""Faults on the local target, under a short steady keep-alive load through HAProxy: clients that
hang up mid-body (no error for the deploy watch), then SIGKILL the live color's supervisor, a
worker and HAProxy in turn; for each, the requests that failed, when it was seen (`deploy status`,
the proxy's /metrics) and when it was recovered, by what. `make bench-faults` writes the figures to
reports/deploy_faults.json (the path in GREENLIGHT_FAULTS_REPORT). The rig then checks, by a /proc
scan, that `deploy down` left no process of ours. A second test kills one of two workers: the
other keeps the color serving (`two_workers` in the same JSON)."""

from __future__ import annotations

import itertools
import json
import os
import platform
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from deploy_rig import REAL_COMMAND, LocalRig, deploy, local_rig, needs_haproxy, real_bundle

from conftest import PipelineRun
from greenlight.deploy.targets import processes
from greenlight.deploy.targets.base import Color, Slot, other
from greenlight.deploy.targets.local import open_local
from greenlight.deploy.targets.local_state import LocalState
from greenlight.files import write_json
from tools.harness.load import Answer, SteadyLoad

pytestmark = [pytest.mark.slow, needs_haproxy]
REPORT_VARIABLE = "GREENLIGHT_FAULTS_REPORT"
RATE, CLIENTS = 20, 4
SLOW_S = 1.0  # an answer slower than this counts as not yet recovered (a stalled request)
WORKER_BACK_S = 150.0  # BentoML respawns a worker, which loads and warms up the model


@pytest.fixture
def real_rig(tmp_path: Path) -> Iterator[LocalRig]:
    with local_rig(REAL_COMMAND, tmp_path / "bundles", readiness_deadline_s=240.0) as rig:
        yield rig


@dataclass
class Fault:
    name: str
    at: float  # time.time() of the kill
    detected_s: float | None  # until `deploy status` (or the proxy's /metrics) showed it
    restored_s: float  # until the target was whole again
    recovered_by: str
    until: float = 0.0  # when the next fault began (or the load ended)

    def window(self, answers: list[Answer]) -> list[Answer]:
        """Requests that ended between this kill and the next (a request in flight when the next
        fault struck is that one's)."""
        return [answer for answer in answers if self.at <= answer.done < self.until]

    def report(self, answers: list[Answer]) -> dict[str, object]:
        window = self.window(answers)
        failed = [answer for answer in window if not answer.ok]
        bad = failed + [a for a in window if a.ok and a.done - a.sent > SLOW_S]
        last = max((answer.done for answer in bad), default=None)
        good = [a.done for a in window if a.ok and (last is None or a.done > last)]
        recovered = (min(good) - self.at if last is not None else 0.0) if good else None
        kinds = sorted({str(a.error or a.status).split(":")[0] for a in failed})
        return {
            "fault": self.name,
            "requests": len(window),
            "requests_failed": len(failed),
            "failed_as": kinds,
            "requests_slow": len(bad) - len(failed),
            "clients_recovered_s": _round(recovered),
            "detected_s": _round(self.detected_s),
            "restored_s": _round(self.restored_s),
            "recovered_by": self.recovered_by,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def state_of(rig: LocalRig) -> LocalState:
    return LocalState.load(rig.settings.local.state_dir / "state.json")


def wait_for(condition: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    return condition()


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def proxy_says(rig: LocalRig, color: Color, state: str) -> bool:
    """HAProxy's Prometheus exporter reports `color`'s server in `state` (UP, DOWN, MAINT)."""
    line = f'haproxy_server_status{{proxy="colors",server="{color}",state="{state}"}} 1'
    return line in proxy_metrics(rig)


def times_down(rig: LocalRig, color: Color) -> int:
    """How often HAProxy's health checks took `color` from UP to DOWN (its exporter's counter)."""
    prefix = f'haproxy_server_check_up_down_total{{proxy="colors",server="{color}"}} '
    found = [line.removeprefix(prefix) for line in proxy_metrics(rig) if line.startswith(prefix)]
    return int(found[0]) if found else -1


def proxy_metrics(rig: LocalRig) -> list[str]:
    try:
        return httpx.get(rig.metrics_url, timeout=2).text.splitlines()
    except httpx.TransportError:
        return []


def worker_of(record: processes.ProcessRecord) -> psutil.Process | None:
    workers = workers_of(record)
    return workers[0] if workers else None


def workers_of(record: processes.ProcessRecord) -> list[psutil.Process]:
    return [p for p in processes.tree(record) if "_bentoml_impl.worker" in " ".join(p.cmdline())]


def live_slot(rig: LocalRig) -> tuple[Color, processes.ProcessRecord, int]:
    state = state_of(rig)
    assert state.live is not None
    slot = state.slots[state.live]
    assert slot.process is not None and slot.port is not None
    return state.live, slot.process.record(), slot.port


def status_of(rig: LocalRig, color: Color) -> Slot:
    """What `greenlight deploy status` reports for `color`."""
    with open_local(rig.settings.local) as target:
        return target.state().slots[color]


def kill_supervisor(rig: LocalRig, bundle: Path) -> Fault:
    """Its worker, orphaned, keeps serving; `deploy status` says the color is dead at once. The
    recovery is the next `greenlight deploy`: the same release on the other color, through every
    gate, then the dead color's leftovers are stopped."""
    color, supervisor, _ = live_slot(rig)
    at = time.time()
    os.kill(supervisor.pid, signal.SIGKILL)
    assert wait_for(lambda: not status_of(rig, color).running, within=5)
    detected, slot = time.time() - at, status_of(rig, color)
    print(f"\n{color} after its supervisor's SIGKILL: running={slot.running}, {slot.condition}")
    assert not slot.running and slot.condition is not None
    assert slot.condition.startswith("dead") and "still run" in slot.condition
    outcome = deploy(rig, bundle)
    assert outcome.ok and outcome.color == other(color), outcome
    assert processes.remaining(supervisor) == []  # the orphaned worker was stopped
    return Fault("supervisor SIGKILL", at, detected, time.time() - at, "`greenlight deploy`")


def kill_worker(rig: LocalRig) -> Fault:
    """BentoML's supervisor respawns it; meanwhile HAProxy's health check takes the color DOWN
    (its /metrics say so) and answers 503 at once, until /readyz passes again."""
    color, supervisor, port = live_slot(rig)
    old = worker_of(supervisor)
    assert old is not None
    downs = times_down(rig, color)
    at = time.time()
    old.send_signal(signal.SIGKILL)
    assert wait_for(lambda: times_down(rig, color) > downs, within=20)
    detected = time.time() - at
    with open_local(rig.settings.local) as target:
        router = target.state().router
    print(f"\nrouter after the worker's SIGKILL: {router}")
    assert router is not None and f"live {color} is DOWN" in router, router  # status says so too
    respawned = lambda: (w := worker_of(supervisor)) is not None and w.pid != old.pid  # noqa: E731
    back = lambda: respawned() and ready(port) and proxy_says(rig, color, "UP")  # noqa: E731
    assert wait_for(back, within=WORKER_BACK_S)
    return Fault("worker SIGKILL", at, detected, time.time() - at, "BentoML's supervisor")


def kill_proxy(rig: LocalRig) -> Fault:
    """Every client connection fails until the next `greenlight deploy` command (`status` here, 1 s
    later) restarts HAProxy from its config, live color and all."""
    at = time.time()
    os.kill(state_of(rig).proxy.pid, signal.SIGKILL)  # type: ignore[union-attr]
    time.sleep(1.0)
    with open_local(rig.settings.local) as target:
        router = target.state().router
    print(f"\nrouter after HAProxy's SIGKILL and `deploy status`: {router}")
    assert target.restarted_proxy is not None and "had died" in target.restarted_proxy
    assert router is not None and "restarted" in router
    return Fault("HAProxy SIGKILL", at, 1.0, time.time() - at, "any `greenlight deploy` command")


def abort_uploads(port: int, body: bytes, count: int) -> None:
    """`count` clients that declare the whole body, send half of it and hang up."""
    head = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(head + body[: len(body) // 2])


def check_aborts_are_no_errors(rig: LocalRig, record: dict[str, object]) -> None:
    """Clients that hang up mid-body, through HAProxy: not one error where the watch looks."""
    body = json.dumps({"records": [record] * 50}).encode()
    with open_local(rig.settings.local) as target:
        before = target.traffic("blue")
        abort_uploads(rig.settings.local.proxy_port, body, count=10)
        time.sleep(2.0)
        after = target.traffic("blue")
    assert httpx.post(rig.url, json={"records": [record]}, timeout=10).status_code == 200
    assert after.errors == before.errors, (before, after)
    print(f"\n10 client aborts through HAProxy: watch errors {before.errors} -> {after.errors}")


def test_kill_the_supervisor_a_worker_and_the_proxy_in_turn(
    real_rig: LocalRig, pipeline_run: PipelineRun
) -> None:
    bundle = real_bundle(pipeline_run.bundle, real_rig.bundles, "v1")
    assert deploy(real_rig, bundle).ok
    record = json.loads((bundle / "manifest.json").read_text())["known_answers"][0]["record"]
    check_aborts_are_no_errors(real_rig, record)
    with SteadyLoad(real_rig.url, record, rate=RATE, clients=CLIENTS, max_seconds=300) as load:
        time.sleep(2.0)
        faults = [kill_supervisor(real_rig, bundle)]
        time.sleep(2.0)
        faults.append(kill_worker(real_rig))
        time.sleep(2.0)
        faults.append(kill_proxy(real_rig))
        time.sleep(3.0)
        end = time.time()
        answers = load.stop()
    for fault, after in itertools.pairwise([*faults, None]):
        fault.until = after.at if after else end
    reports = [fault.report(answers) for fault in faults]
    for line in reports:
        print(f"\n{json.dumps(line)}", end="")
    publish(reports, len(answers))
    assert all(line["clients_recovered_s"] is not None for line in reports), reports
    assert reports[0]["requests_failed"] == 0  # the orphaned worker served until the redeploy
    with open_local(real_rig.settings.local, start_proxy=False) as target:
        target.down()
    state = state_of(real_rig)
    assert state.proxy is None and all(slot.process is None for slot in state.slots.values())
    # the rig's teardown then scans /proc: no process of this test may be left


def kill_one_of_two_workers(rig: LocalRig) -> Fault:
    """The other worker keeps accepting on the supervisor's listening socket while BentoML
    respawns the killed one; HAProxy's checks keep passing (nothing to see in /metrics)."""
    color, supervisor, port = live_slot(rig)
    old = workers_of(supervisor)
    assert len(old) == 2, old
    downs, at = times_down(rig, color), time.time()
    old[0].send_signal(signal.SIGKILL)
    fresh = lambda: {w.pid for w in workers_of(supervisor)} - {w.pid for w in old}  # noqa: E731
    assert wait_for(lambda: len(workers_of(supervisor)) == 2 and bool(fresh()), WORKER_BACK_S)
    assert wait_for(lambda: ready(port), within=30)
    name = f"one of 2 workers SIGKILL (checks took it DOWN {times_down(rig, color) - downs}x)"
    return Fault(name, at, None, time.time() - at, "BentoML's supervisor; the other worker served")


def test_a_second_worker_serves_while_the_killed_one_respawns(
    tmp_path: Path, pipeline_run: PipelineRun
) -> None:
    command = (*REAL_COMMAND, "--workers", "2")
    with local_rig(command, tmp_path / "bundles", readiness_deadline_s=240.0) as rig:
        bundle = real_bundle(pipeline_run.bundle, rig.bundles, "v1")
        assert deploy(rig, bundle).ok
        record = json.loads((bundle / "manifest.json").read_text())["known_answers"][0]["record"]
        with SteadyLoad(rig.url, record, rate=RATE, clients=CLIENTS, max_seconds=300) as load:
            time.sleep(2.0)
            fault = kill_one_of_two_workers(rig)
            time.sleep(2.0)
            fault.until = time.time()
            answers = load.stop()
    report = fault.report(answers)
    print(f"\n{json.dumps(report)}")
    publish_more("two_workers", report)
    # far fewer than one worker's outage (all of its window); a loaded machine may fail a few
    assert report["requests_failed"] <= 0.25 * report["requests"], report  # type: ignore[operator]


def publish_more(key: str, report: dict[str, object]) -> None:
    """Add `report` under `key` to the figures the first test wrote (if it was asked to)."""
    destination = os.environ.get(REPORT_VARIABLE)
    if not destination or not Path(destination).is_file():
        return
    figures = json.loads(Path(destination).read_text())
    write_json(Path(destination), {**figures, key: report})


def publish(reports: list[dict[str, object]], answers: int) -> None:
    destination = os.environ.get(REPORT_VARIABLE)
    if not destination:
        return
    load = {"rate_per_s": RATE, "keepalive_clients": CLIENTS, "requests": answers, "slow_s": SLOW_S}
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    write_json(Path(destination), {"load": load, "faults": reports, "machine": machine})
    print(f"\nwrote {destination}")
