"""Faults on the local target, under steady load through HAProxy: clients that hang up mid-body
(no error for the deploy watch), then kill a worker, HAProxy and the supervisor of the live color
in turn, and count what the clients got. The tree of a color is tracked whole: a supervisor's
death shows in `state()` even while its orphaned worker serves, and `down()` leaves no process of
ours."""

from __future__ import annotations

import itertools
import json
import os
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
from greenlight.deploy.loadgen import Answer, SteadyLoad
from greenlight.deploy.targets import processes
from greenlight.deploy.targets.local import open_local
from greenlight.deploy.targets.local_state import LocalState, load_state

pytestmark = [pytest.mark.slow, needs_haproxy]


@pytest.fixture
def real_rig(tmp_path: Path) -> Iterator[LocalRig]:
    with local_rig(REAL_COMMAND, tmp_path / "bundles", readiness_deadline_s=240.0) as rig:
        yield rig


@dataclass(frozen=True)
class Fault:
    name: str
    at: float  # time.time() of the kill
    until: float  # when the next fault began (or the load ended)

    def outcome(self, answers: list[Answer]) -> tuple[int, float]:
        """Requests that ended in this fault's window (a request in flight when the next fault
        struck is that one's) and failed, and seconds from the kill to the first success after
        the last failure (0 when none failed)."""
        window = [answer for answer in answers if self.at <= answer.done < self.until]
        failed = [answer for answer in window if not answer.ok]
        if not failed:
            return 0, 0.0
        last = max(answer.done for answer in failed)
        recovered = [answer.done for answer in window if answer.ok and answer.done > last]
        return len(failed), (min(recovered) - self.at) if recovered else float("inf")


def state_of(rig: LocalRig) -> LocalState:
    return load_state(rig.settings.local.state_dir / "state.json")


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


def worker_of(record: processes.ProcessRecord) -> psutil.Process | None:
    workers = [p for p in processes.tree(record) if "_bentoml_impl.worker" in " ".join(p.cmdline())]
    return workers[0] if workers else None


def kill_worker(rig: LocalRig) -> None:
    slot = state_of(rig).slots["blue"]
    record, port = slot.process.record(), slot.port  # type: ignore[union-attr]
    old = worker_of(record)
    assert old is not None
    old.send_signal(signal.SIGKILL)
    respawned = lambda: (w := worker_of(record)) is not None and w.pid != old.pid  # noqa: E731
    assert wait_for(lambda: respawned() and ready(port), within=180)  # type: ignore[arg-type]


def kill_proxy(rig: LocalRig) -> float:
    """SIGKILL HAProxy; 2 s later, what every deploy command does first restarts it."""
    os.kill(state_of(rig).proxy.pid, signal.SIGKILL)  # type: ignore[union-attr]
    time.sleep(2.0)
    started = time.monotonic()
    with open_local(rig.settings.local) as target:
        assert target.restarted_proxy is not None and "had died" in target.restarted_proxy
    return time.monotonic() - started


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


def test_kill_a_worker_the_proxy_and_the_supervisor_in_turn(
    real_rig: LocalRig, pipeline_run: PipelineRun
) -> None:
    bundle = real_bundle(pipeline_run.bundle, real_rig.bundles, "v1")
    assert deploy(real_rig, bundle).ok
    record = json.loads((bundle / "manifest.json").read_text())["known_answers"][0]["record"]
    check_aborts_are_no_errors(real_rig, record)
    supervisor = state_of(real_rig).slots["blue"].process.record()  # type: ignore[union-attr]
    ours_before = sorted(p.pid for p in processes.tree(supervisor))
    with SteadyLoad(real_rig.url, record, rate=20, clients=2, max_seconds=400) as load:
        time.sleep(2.0)
        marks = [("worker SIGKILL", time.time())]
        kill_worker(real_rig)
        time.sleep(2.0)
        marks.append(("HAProxy SIGKILL", time.time()))
        restart_s = kill_proxy(real_rig)
        time.sleep(2.0)
        marks.append(("supervisor SIGKILL", time.time()))
        os.kill(supervisor.pid, signal.SIGKILL)
        time.sleep(3.0)
        with open_local(real_rig.settings.local) as target:
            blue = target.state().slots["blue"]
        marks.append(("end", time.time()))
        answers = load.stop()
    faults = [Fault(name, at, until) for (name, at), (_, until) in itertools.pairwise(marks)]
    for fault in faults:
        failed, recovery_s = fault.outcome(answers)
        print(f"\n{fault.name}: {failed} requests failed, recovered in {recovery_s:.2f} s", end="")
        kinds = sorted(
            {
                str(a.error).split(":")[0]
                for a in answers
                if not a.ok and fault.at <= a.done < fault.until
            }
        )
        print(f" ({', '.join(kinds) or 'none'})", end="")
    print(f"\nHAProxy restart by the next deploy command: {restart_s:.2f} s")
    print(f"blue after its supervisor's death: running={blue.running}, {blue.condition}")
    assert not blue.running and blue.condition is not None
    assert blue.condition.startswith("dead") and "still run" in blue.condition
    assert all(fault.outcome(answers)[1] < float("inf") for fault in faults)
    with open_local(real_rig.settings.local, start_proxy=False) as target:
        target.down()
    state = state_of(real_rig)
    assert state.proxy is None and all(slot.process is None for slot in state.slots.values())
    assert processes.tree(supervisor) == [], ours_before  # no process of the color survives
