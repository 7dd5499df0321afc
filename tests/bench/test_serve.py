"""The serving benchmark's load loop stops by itself (request count or time cap) and counts what
went wrong; its verdict compares against the targets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import psutil
import pytest

from conftest import PipelineRun
from loopback import serving
from tools.bench.serve import (
    Scenario,
    Tally,
    goals,
    log_verdict,
    peer_starter,
    pooled,
    run_scenario,
    summarize,
    tree_rss_mib,
    verdict,
    versus_peer,
)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the service
    status = 200
    delay = 0.0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        threading.Event().wait(self.delay)
        body = b'{"predictions": []}'
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        """Quiet."""


@pytest.fixture
def stub() -> Iterator[str]:
    try:
        with serving(Handler) as url:
            yield url
    finally:
        Handler.status, Handler.delay = 200, 0.0


def test_load_stops_after_the_request_count(stub: str) -> None:
    result = run_scenario(stub, Scenario("s", 4, 1, 40, 30.0), b"{}")
    assert result["requests"] == 40
    assert result["errors"] == 0
    assert result["requests_per_s"] > 0
    assert result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]


def test_load_stops_at_the_time_cap(stub: str) -> None:
    Handler.delay = 0.05
    result = run_scenario(stub, Scenario("s", 2, 1, 10_000, 0.5), b"{}")
    assert 0 < result["requests"] < 100
    assert result["seconds"] < 2.0


def test_non_200_answers_are_errors_by_kind(stub: str) -> None:
    Handler.status = 503
    result = run_scenario(stub, Scenario("s", 2, 1, 10, 30.0), b"{}")
    assert result["requests"] == 0
    assert result["errors"] == 10
    assert result["error_kinds"] == {"HTTP 503": 10}


def test_refused_connections_are_errors_not_crashes() -> None:
    result = run_scenario("http://127.0.0.1:9", Scenario("s", 1, 1, 3, 10.0), b"{}")
    assert result["errors"] == 3
    assert all(kind.startswith("ConnectionRefusedError") for kind in result["error_kinds"])


def fake(name: str, p50: float, requests_per_s: float, errors: int = 0) -> dict:
    scenario = Scenario(name, 1, 1, 1, 1.0)
    result = summarize(scenario, Tally(latencies=[p50 / 1000] * 3), 1.0)
    return {
        **result,
        "requests_per_s": requests_per_s,
        "errors": errors,
        "server_cpu_ms_per_request": 1.0,
    }


def test_verdict_applies_the_targets() -> None:
    floor = {"bundle_predict_proba_p50_ms": 10.0, "service_path_p50_ms": 1.0}
    good = verdict([fake("single_c1", 2.5, 100), fake("single_c8", 20.0, 250)], floor)
    assert good["served_p50_over_floor_p50"] == 2.5
    assert good["served_p50_over_bundle_path_p50"] == 0.25
    assert all(good["passed"].values())
    bad = verdict([fake("single_c1", 3.1, 100), fake("single_c8", 20.0, 199, errors=1)], floor)
    assert bad["passed"] == {"p50_ratio": False, "c8_requests_per_s": False, "errors": False}


def test_versus_peer_divides_each_scenario_by_the_peers() -> None:
    figures = ("p50_ms", "p99_ms", "requests_per_s", "server_cpu_ms_per_request")
    served = [{"name": "single_c1", **dict(zip(figures, (2.0, 9.0, 300.0, 1.5), strict=True))}]
    peer = [{"name": "single_c1", **dict(zip(figures, (1.0, 3.0, 600.0, 0.5), strict=True))}]
    assert versus_peer(served, peer) == {
        "single_c1": {
            "p50_ratio": 2.0,
            "p99_ratio": 3.0,
            "throughput_ratio": 0.5,
            "cpu_per_request_ratio": 3.0,
        }
    }


def test_rounds_pool_into_requests_over_seconds_and_cpu_over_requests() -> None:
    rounds = [
        {
            "requests": 100,
            "seconds": 1.0,
            "errors": 0,
            "cpu_seconds": 0.5,
            "p50_ms": 4.0,
            "p99_ms": 9.0,
        },
        {
            "requests": 300,
            "seconds": 3.0,
            "errors": 1,
            "cpu_seconds": 1.5,
            "p50_ms": 6.0,
            "p99_ms": 7.0,
        },
    ]
    figures = pooled(rounds)
    assert figures["requests_per_s"] == 100.0
    assert figures["server_cpu_ms_per_request"] == 5.0
    assert (figures["errors"], figures["p50_ms"], figures["p99_ms"]) == (1, 5.0, 9.0)


def test_the_log_goal_is_at_most_a_tenth_of_the_throughput() -> None:
    def figures(on: float) -> dict:
        def one(rate: float, cpu: float) -> dict:
            return {"requests_per_s": rate, "server_cpu_ms_per_request": cpu}

        return {"log_on": one(on, 5.5), "log_off": one(100.0, 5.0)}

    kept = log_verdict(figures(90.0), {"log_on": 100, "log_off": 0})
    assert (kept["throughput_cost"], kept["cpu_per_request_ratio"], kept["met"]) == (0.1, 1.1, True)
    assert log_verdict(figures(89.0), {"log_on": 100, "log_off": 0})["met"] is False


def scenarios(c1_p50: float, c8: float, c32: float, batch: float, p99: float) -> list[dict]:
    results = [
        {**fake("single_c1", c1_p50, 100.0), "p99_ms": 5.0},
        {**fake("single_c8", 4.0, c8), "p99_ms": p99},
        {**fake("single_c32", 8.0, c32), "p99_ms": p99},
        {**fake("batch100_c1", 9.0, batch), "p99_ms": 20.0},
    ]
    return results


def test_goals_are_ratios_to_the_plain_app_of_the_same_run() -> None:
    plain = {"idle_rss_mib": 250.0, "scenarios": scenarios(1.0, 100.0, 100.0, 50.0, 30.0)}
    served = {
        "idle_rss_mib": 300.0,
        "torch_mapped": False,
        "scenarios": scenarios(1.3, 300.0, 300.0, 50.0, 25.0),
    }
    assert all(goals(served, plain).values()), goals(served, plain)
    slow = {**served, "scenarios": scenarios(1.31, 299.0, 300.0, 49.0, 25.1)}
    missed = [name for name, met in goals(slow, plain).items() if not met]
    assert missed == [
        "single_c1_p50_within_1.3x",
        "c8_c32_throughput_3x",
        "c8_c32_p99_25ms",
        "batch100_throughput_1x",
    ]
    heavy = {**served, "idle_rss_mib": 301.0, "torch_mapped": True}
    assert [name for name, met in goals(heavy, plain).items() if not met] == [
        "idle_rss_within_1.2x",
        "no_torch",
    ]


@pytest.mark.slow
def test_the_peer_answers_like_the_service_and_stops_with_its_tree(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    manifest = json.loads((pipeline_run.bundle / "manifest.json").read_text())
    answer = manifest["known_answers"][0]
    with peer_starter(pipeline_run.bundle)(tmp_path / "p.jsonl") as peer:
        assert tree_rss_mib(peer) > 0
        body = httpx.post(f"{peer.base_url}/predict", json={"records": [answer["record"]]}).json()
        refused = httpx.post(f"{peer.base_url}/predict", json={"records": []})
        members = peer.tree()
    assert body["model_version"] == manifest["model_version"]
    assert abs(body["predictions"][0]["probability"] - answer["probability"]) < 1e-5
    assert refused.status_code == 400
    assert members and [process.pid for process in members if _running(process)] == []
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 1  # flushed on shutdown


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
