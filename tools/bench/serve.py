"""`make bench-serve`: start the real service on a free 127.0.0.1 port, run bounded load against
it (fixed request count and a time cap per scenario, keep-alive connections), measure the
in-process floor in the same run, and write reports/serving_bench.json."""

from __future__ import annotations

import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from greenlight.artifacts import load_bundle
from greenlight.files import write_json
from greenlight.paths import BUNDLE, REPORTS
from greenlight.serving.predictor import Predictor
from greenlight.settings import resolve_serving
from tools.harness.server import RunningServer, unwind_on_termination

OUTPUT = REPORTS / "serving_bench.json"
PEER = "tools/bench/serve_peer.py"
TARGETS = {"p50_ratio_max": 3.0, "c8_requests_per_s_min": 200.0, "errors_max": 0}
# Issue 13's goals, as ratios to the plain Starlette app measured in the same run.
GOALS = {
    "p50_ratio_max": 1.3,
    "throughput_ratio_min": 3.0,
    "p99_ms_max": 25.0,
    "batch_ratio_min": 1.0,
    "idle_rss_ratio_max": 1.2,
    "log_cost_max": 0.10,
}


@dataclass(frozen=True)
class Scenario:
    name: str
    concurrency: int
    records_per_request: int
    max_requests: int
    max_seconds: float


SCENARIOS = (
    Scenario("single_c1", 1, 1, 2000, 20.0),
    Scenario("single_c8", 8, 1, 4000, 20.0),
    Scenario("single_c32", 32, 1, 4000, 20.0),
    Scenario("batch100_c1", 1, 100, 300, 20.0),
)


# The prediction log's cost: this scenario, LOG_ROUNDS times on each of two services (log on,
# log off); after each run, the log's flush interval (0.5 s) and a margin before the CPU is read.
LOG_SCENARIO = Scenario("batch100_c1", 1, 100, 300, 20.0)
LOG_ROUNDS = 4
LOG_SETTLE_S = 0.8
LOG_SWITCH = {
    "log_on": {"GREENLIGHT_LOG_PREDICTIONS": "true"},
    "log_off": {"GREENLIGHT_LOG_PREDICTIONS": "false"},
}


@dataclass
class Tally:
    latencies: list[float]
    errors: int = 0
    issued: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


def percentile_ms(values: Sequence[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)) * 1000, 3) if values else float("nan")


def summarize(scenario: Scenario, tally: Tally, seconds: float) -> dict[str, Any]:
    done = len(tally.latencies)
    return {
        **asdict(scenario),
        "requests": done,
        "errors": tally.errors,
        "error_kinds": tally.error_kinds,
        "seconds": round(seconds, 3),
        "requests_per_s": round(done / seconds, 1),
        "records_per_s": round(done * scenario.records_per_request / seconds, 1),
        "p50_ms": percentile_ms(tally.latencies, 50),
        "p95_ms": percentile_ms(tally.latencies, 95),
        "p99_ms": percentile_ms(tally.latencies, 99),
    }


def _one_client(host: str, port: int, body: bytes, tally: Tally, stop: Callable) -> None:
    """One keep-alive connection sending requests back to back. The standard library's client
    costs a fraction of a millisecond per request; an httpx client cost about 3 ms of this
    machine's two cores, which the server then did not get, and it showed up in every latency."""
    headers = {"Content-Type": "application/json"}
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        while not stop():
            started = time.perf_counter()
            try:
                connection.request("POST", "/predict", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                tally.error(f"{type(error).__name__}: {error}"[:200])
                connection.close()  # the next request opens a fresh connection
                continue
            if response.status == 200:
                tally.latencies.append(time.perf_counter() - started)
            else:
                tally.error(f"HTTP {response.status}")
    finally:
        connection.close()


def run_scenario(base_url: str, scenario: Scenario, body: bytes) -> dict[str, Any]:
    """`concurrency` keep-alive clients until max_requests were issued or max_seconds passed."""
    address = urlsplit(base_url)
    tally, lock = Tally(latencies=[]), threading.Lock()
    started = time.perf_counter()
    deadline = started + scenario.max_seconds

    def stop() -> bool:
        with lock:  # claims one request of the budget, or says the scenario is over
            if tally.issued >= scenario.max_requests or time.perf_counter() >= deadline:
                return True
            tally.issued += 1
            return False

    arguments = (address.hostname, address.port, body, tally, stop)
    with ThreadPoolExecutor(max_workers=scenario.concurrency) as pool:
        for future in [pool.submit(_one_client, *arguments) for _ in range(scenario.concurrency)]:
            future.result()
    return summarize(scenario, tally, time.perf_counter() - started)


def request_body(records: list[dict[str, Any]], count: int) -> bytes:
    chosen = [records[index % len(records)] for index in range(count)]
    return json.dumps({"records": chosen}).encode()


def median_seconds(call: Callable[[], object], repeats: int = 500, within: float = 15.0) -> float:
    """Median wall time of `call` over `repeats` runs, or as many as fit in `within` seconds."""
    call()
    timings: list[float] = []
    deadline = time.perf_counter() + within
    while len(timings) < repeats and time.perf_counter() < deadline:
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def in_process_floor(bundle_dir: Path) -> dict[str, float]:
    """One record, in this process, with one OpenMP thread like the service: the bundle's own
    path (pandas + fitted preprocessor + model) and the service's (fast encoder + model)."""
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    bundle = load_bundle(bundle_dir)
    predictor = Predictor.for_bundle(bundle)
    record = bundle.manifest["known_answers"][0]["record"]
    with threadpool_limits(limits=1):
        bundle_path = median_seconds(lambda: bundle.predict_proba(pd.DataFrame([record])))
        served_path = median_seconds(lambda: predictor.probabilities([record]))
    return {
        "bundle_predict_proba_p50_ms": round(bundle_path * 1000, 3),
        "service_path_p50_ms": round(served_path * 1000, 3),
    }


def run_load(server: RunningServer, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    run_scenario(server.base_url, Scenario("warm_up", 4, 1, 200, 10.0), request_body(records, 1))
    return [charged(server, scenario, records) for scenario in SCENARIOS]


def charged(
    server: RunningServer, scenario: Scenario, records: list[dict[str, Any]]
) -> dict[str, Any]:
    """One scenario's figures and the server's CPU time per request: unlike latency, it hardly
    moves when other work shares the cores, so its ratio to a peer survives a busy machine."""
    before = tree_cpu_seconds(server)
    result = run_scenario(
        server.base_url, scenario, request_body(records, scenario.records_per_request)
    )
    spent = tree_cpu_seconds(server) - before
    result["server_cpu_ms_per_request"] = round(spent * 1000 / max(result["requests"], 1), 3)
    return result


def settled_cpu(server: RunningServer, scenario: Scenario, body: bytes) -> dict[str, Any]:
    """One scenario, then the prediction log's flush interval before the CPU is read, so the
    writer's work for these requests is charged to them, not to the next run."""
    before = tree_cpu_seconds(server)
    result = run_scenario(server.base_url, scenario, body)
    time.sleep(LOG_SETTLE_S)
    result["cpu_seconds"] = tree_cpu_seconds(server) - before
    return result


def pooled(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Several rounds of one server as one figure: requests over seconds, CPU over requests."""
    requests = sum(result["requests"] for result in rounds)
    seconds = sum(result["seconds"] for result in rounds)
    cpu = sum(result.pop("cpu_seconds") for result in rounds)
    return {
        "requests": requests,
        "errors": sum(result["errors"] for result in rounds),
        "requests_per_s": round(requests / seconds, 1),
        "server_cpu_ms_per_request": round(cpu * 1000 / max(requests, 1), 3),
        "p50_ms": round(statistics.median(result["p50_ms"] for result in rounds), 3),
        "p99_ms": max(result["p99_ms"] for result in rounds),
        "rounds": rounds,
    }


def log_rounds(servers: dict[str, RunningServer], body: bytes) -> dict[str, dict[str, Any]]:
    """LOG_ROUNDS of the 100-record scenario on each server, alternating which goes first, so a
    machine that gets busier or quieter during the run weighs on both alike."""
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for server in servers.values():
        run_scenario(server.base_url, Scenario("warm_up", 1, 100, 50, 10.0), body)
    for number in range(LOG_ROUNDS):
        names = list(servers) if number % 2 == 0 else list(reversed(servers))
        for name in names:
            rounds[name].append(settled_cpu(servers[name], LOG_SCENARIO, body))
    return {name: pooled(results) for name, results in rounds.items()}


def log_cost(bundle_dir: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The prediction log's cost on 100-record batches: the same service with the log on and
    off (`GREENLIGHT_LOG_PREDICTIONS`), both up at once, measured in alternating rounds."""
    body = request_body(records, LOG_SCENARIO.records_per_request)
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-log-") as scratch:
        logs = {name: Path(scratch) / f"{name}.jsonl" for name in ("log_on", "log_off")}
        with (
            RunningServer.start(bundle_dir, logs["log_on"], environment=LOG_SWITCH["log_on"]) as on,
            RunningServer.start(
                bundle_dir, logs["log_off"], environment=LOG_SWITCH["log_off"]
            ) as off,
        ):
            figures = log_rounds({"log_on": on, "log_off": off}, body)
        lines = {name: _lines(path) for name, path in logs.items()}
    return log_verdict(figures, lines)


def _lines(path: Path) -> int:
    """The lines of the log at `path` and of its rotated files (`path`.1, .2 ...)."""
    files = [path, *path.parent.glob(f"{path.name}.[0-9]*")]
    return sum(len(file.read_text().splitlines()) for file in files if file.exists())


def log_verdict(figures: dict[str, dict[str, Any]], lines: dict[str, int]) -> dict[str, Any]:
    """The log-on figures over the log-off ones, and the goal: the log costs at most 10 % of
    the throughput. `lines_on_disk` proves the switch did what it says (and that nothing was
    lost: every answered record of the log-on service, warm-up included, is a line)."""
    on, off = figures["log_on"], figures["log_off"]
    throughput = on["requests_per_s"] / off["requests_per_s"]
    cost = 1 - throughput
    return {
        "scenario": asdict(LOG_SCENARIO),
        **figures,
        "lines_on_disk": lines,
        "throughput_ratio": round(throughput, 3),
        "cpu_per_request_ratio": round(
            on["server_cpu_ms_per_request"] / off["server_cpu_ms_per_request"], 3
        ),
        "throughput_cost": round(cost, 3),
        "goal_throughput_cost_max": GOALS["log_cost_max"],
        "met": cost <= GOALS["log_cost_max"],
    }


def verdict(results: list[dict[str, Any]], floor: dict[str, float]) -> dict[str, Any]:
    """The targets: single-record p50 against the floor (the service's own preprocessing and
    model, in-process), c8 throughput, errors; plus, for the record, p50 against the slower
    bundle.predict_proba path (pandas + the fitted ColumnTransformer)."""
    by_name = {result["name"]: result for result in results}
    served_p50 = by_name["single_c1"]["p50_ms"]
    ratio = served_p50 / floor["service_path_p50_ms"]
    errors = sum(result["errors"] for result in results)
    c8 = by_name["single_c8"]["requests_per_s"]
    return {
        "served_p50_over_floor_p50": round(ratio, 3),
        "served_p50_over_bundle_path_p50": round(
            served_p50 / floor["bundle_predict_proba_p50_ms"], 3
        ),
        "errors": errors,
        "passed": {
            "p50_ratio": ratio <= TARGETS["p50_ratio_max"],
            "c8_requests_per_s": c8 >= TARGETS["c8_requests_per_s_min"],
            "errors": errors <= TARGETS["errors_max"],
        },
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


Starter = Callable[[Path], AbstractContextManager[RunningServer]]


def measure(start: Starter, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Idle memory of the server's whole process tree once ready, then every scenario."""
    with (
        tempfile.TemporaryDirectory(prefix="greenlight-bench-") as scratch,
        start(Path(scratch) / "predictions.jsonl") as server,
    ):
        idle, torch = tree_rss_mib(server), torch_mapped(server)
        scenarios = run_load(server, records)
        return {"idle_rss_mib": idle, "torch_mapped": torch, "scenarios": scenarios}


def idle_memory(start: Starter) -> dict[str, Any]:
    """Idle memory of the server's process tree once ready, and how many processes it has."""
    with (
        tempfile.TemporaryDirectory(prefix="greenlight-bench-") as scratch,
        start(Path(scratch) / "predictions.jsonl") as server,
    ):
        return {"idle_rss_mib": tree_rss_mib(server), "processes": len(server.tree())}


def without_supervisor(bundle_dir: Path, plain: dict[str, Any]) -> dict[str, Any]:
    """The service with `serving.supervisor: false` (BentoML's worker alone): idle memory only."""
    environment = {"GREENLIGHT_SUPERVISOR": "false"}
    idle = idle_memory(lambda log: RunningServer.start(bundle_dir, log, environment=environment))
    ratio = idle["idle_rss_mib"] / plain["idle_rss_mib"]
    return {**idle, "idle_rss_over_peer": round(ratio, 3)}


def tree_rss_mib(server: RunningServer) -> float:
    tree = server.tree()
    return round(sum(process.memory_info().rss for process in tree) / 2**20, 1)


def tree_cpu_seconds(server: RunningServer) -> float:
    """User and system CPU seconds of the server's whole process tree so far."""
    tree = server.tree()
    return sum(sum(process.cpu_times()[:2]) for process in tree)


def torch_mapped(server: RunningServer) -> bool:
    """Whether any process of the server's tree has libtorch mapped (torch imported)."""
    for process in server.tree():
        if any("libtorch" in region.path for region in process.memory_maps()):
            return True
    return False


def peer_starter(bundle_dir: Path, coalesce: bool = False) -> Starter:
    """A plain Starlette + uvicorn peer (serve_peer.py) with the service's settings: without the
    coalescer, the plain app the goals are set against; with it, the same engine as the service
    without BentoML."""

    def start(log: Path) -> AbstractContextManager[RunningServer]:
        overrides = {"bundle": bundle_dir.resolve(), "prediction_log": log, "coalesce": coalesce}
        environment = resolve_serving(overrides=overrides).environment()
        command = [sys.executable, "-m", "tools.bench.serve_peer", "--port"]
        return RunningServer.run(lambda port: [*command, str(port)], environment)

    return start


def versus_peer(served: list[dict[str, Any]], peer: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scenario: the service's p50, p99 and throughput over the peer's."""
    by_name = {result["name"]: result for result in peer}
    keys = {
        "p50_ratio": "p50_ms",
        "p99_ratio": "p99_ms",
        "throughput_ratio": "requests_per_s",
        "cpu_per_request_ratio": "server_cpu_ms_per_request",
    }
    return {
        result["name"]: {
            ratio: round(result[key] / by_name[result["name"]][key], 3)
            for ratio, key in keys.items()
        }
        for result in served
    }


def goals(served: dict[str, Any], plain: dict[str, Any]) -> dict[str, bool]:
    """Issue 13's goals, each against the plain app measured in the same run."""
    ratios = versus_peer(served["scenarios"], plain["scenarios"])
    p99 = {result["name"]: result["p99_ms"] for result in served["scenarios"]}
    loaded = ("single_c8", "single_c32")
    return {
        "single_c1_p50_within_1.3x": ratios["single_c1"]["p50_ratio"] <= GOALS["p50_ratio_max"],
        "c8_c32_throughput_3x": all(
            ratios[name]["throughput_ratio"] >= GOALS["throughput_ratio_min"] for name in loaded
        ),
        "c8_c32_p99_25ms": all(p99[name] <= GOALS["p99_ms_max"] for name in loaded),
        "batch100_throughput_1x": ratios["batch100_c1"]["throughput_ratio"]
        >= GOALS["batch_ratio_min"],
        "idle_rss_within_1.2x": served["idle_rss_mib"]
        <= GOALS["idle_rss_ratio_max"] * plain["idle_rss_mib"],
        "no_torch": not served["torch_mapped"],
    }


def serving_settings(bundle_dir: Path) -> dict[str, Any]:
    serving = resolve_serving(overrides={"bundle": bundle_dir}).model_dump(mode="json")
    return {key: value for key, value in serving.items() if key != "prediction_log"}


def peers(served: dict[str, Any], plain: dict[str, Any], engine: dict[str, Any]) -> dict:
    """The peers' own figures, the service's ratios to them and the goals."""
    return {
        "peer": {"what": f"{PEER}, no coalescer: the plain Starlette app", **plain},
        "engine_peer": {"what": f"{PEER} with the coalescer, no BentoML", **engine},
        "versus_peer": versus_peer(served["scenarios"], plain["scenarios"]),
        "versus_engine_peer": versus_peer(served["scenarios"], engine["scenarios"]),
        "idle_rss_over_peer": round(served["idle_rss_mib"] / plain["idle_rss_mib"], 3),
        "goals": GOALS,
        "goals_met": goals(served, plain),
    }


def with_log_goal(report: dict[str, Any]) -> dict[str, Any]:
    report["goals_met"]["prediction_log_cost_10pct"] = report["prediction_log_cost"]["met"]
    lone = report["without_supervisor"]["idle_rss_over_peer"]
    report["goals_met"]["idle_rss_within_1.2x_without_supervisor"] = (
        lone <= GOALS["idle_rss_ratio_max"]
    )
    return report


def run(bundle_dir: Path = BUNDLE, output: Path = OUTPUT) -> dict[str, Any]:
    floor = in_process_floor(bundle_dir)
    records = [answer["record"] for answer in load_bundle(bundle_dir).manifest["known_answers"]]
    served = measure(lambda log: RunningServer.start(bundle_dir, log), records)
    plain = measure(peer_starter(bundle_dir, coalesce=False), records)
    engine = measure(peer_starter(bundle_dir, coalesce=True), records)
    lone = without_supervisor(bundle_dir, plain)
    prediction_log = log_cost(bundle_dir, records)
    report = {
        "machine": machine(),
        "serving": serving_settings(bundle_dir),
        "floor": floor,
        **served,
        **peers(served, plain, engine),
        "without_supervisor": lone,
        "prediction_log_cost": prediction_log,
        "targets": TARGETS,
        **verdict(served["scenarios"], floor),
    }
    write_json(output, with_log_goal(report))
    return report


def print_comparisons(report: dict[str, Any]) -> None:
    for name, ratios in report["versus_peer"].items():
        print(f"{name:<12} vs the plain Starlette app: {ratios}")
    for name, ratios in report["versus_engine_peer"].items():
        print(f"{name:<12} vs the same engine on Starlette: {ratios}")
    print(f"idle memory {report['idle_rss_mib']} MiB, {report['idle_rss_over_peer']}x the peer's")
    lone = report["without_supervisor"]
    print(
        f"without BentoML's supervisor: {lone['idle_rss_mib']} MiB in {lone['processes']} "
        f"process(es), {lone['idle_rss_over_peer']}x the peer's"
    )
    log = report["prediction_log_cost"]
    print(
        f"prediction log, 100-record batches: throughput on/off {log['throughput_ratio']}, "
        f"CPU per request on/off {log['cpu_per_request_ratio']}, lines {log['lines_on_disk']}"
    )
    print(f"issue 13 goals met: {report['goals_met']}")


def main() -> None:
    unwind_on_termination()
    report = run()
    for result in report["scenarios"]:
        print(
            f"{result['name']:<12} {result['requests']:>6} req {result['errors']} err  "
            f"p50 {result['p50_ms']:.2f} p95 {result['p95_ms']:.2f} p99 {result['p99_ms']:.2f} ms  "
            f"{result['requests_per_s']:.0f} req/s {result['records_per_s']:.0f} rec/s"
        )
    floor = report["floor"]
    print(
        f"in-process floor p50: {floor['bundle_predict_proba_p50_ms']:.2f} ms "
        f"(bundle.predict_proba), {floor['service_path_p50_ms']:.2f} ms (service path)"
    )
    ratio = report["served_p50_over_floor_p50"]
    bundle_path = report["served_p50_over_bundle_path_p50"]
    print(f"served p50 / in-process p50 = {ratio:.2f} (vs bundle.predict_proba: {bundle_path:.2f})")
    print_comparisons(report)
    print(f"targets met: {report['passed']}")
    print(f"written to {OUTPUT}")


if __name__ == "__main__":
    main()
