"""The real service under faults that must never be silent or mistaken: a client that hangs up
mid-body is not a server error; a model that answers NaN is one (a 500, counted and logged with
the model version), never a 200 with `null`; a SIGKILL under load loses at most the prediction
log's flush interval."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from serving_support import input_records

from conftest import PipelineRun
from tools.harness.server import RunningServer

pytestmark = pytest.mark.slow

ABORTS = 20

# Loaded by every Python process of the service (PYTHONPATH): while the flag file exists, the
# scikit-learn model answers NaN for every record, as a broken model or library might.
NAN_HOOK = """
import os
from pathlib import Path

import numpy as np

from greenlight.models import sklearn as _sklearn

_FLAG = Path(os.environ["GREENLIGHT_TEST_NAN_FLAG"])
_original = _sklearn.SklearnEstimator.predict_proba


def _predict_proba(self, x):
    values = _original(self, x)
    return np.full_like(values, np.nan) if _FLAG.exists() else values


_sklearn.SklearnEstimator.predict_proba = _predict_proba
"""


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there is none)."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def abort_upload(port: int, body: bytes) -> None:
    """Declare the whole body, send half of it, hang up."""
    head = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(head + body[: len(body) // 2])


def wait_for_metric(server: RunningServer, name: str, value: float, within: float = 20) -> str:
    deadline = time.monotonic() + within
    while True:
        text = httpx.get(f"{server.base_url}/metrics", timeout=5).text
        if metric(text, name) >= value or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


@pytest.fixture(scope="module")
def nan_server(
    pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, Path]]:
    root = tmp_path_factory.mktemp("faults")
    (root / "hook").mkdir()
    (root / "hook" / "sitecustomize.py").write_text(NAN_HOOK)
    flag = root / "nan"
    environment = {"PYTHONPATH": str(root / "hook"), "GREENLIGHT_TEST_NAN_FLAG": str(flag)}
    log = root / "predictions.jsonl"
    with RunningServer.start(pipeline_run.bundle, log, environment=environment) as running:
        yield running, flag


def test_a_client_abort_is_not_a_server_error(
    nan_server: tuple[RunningServer, Path], pipeline_run: PipelineRun
) -> None:
    server, _ = nan_server
    records = input_records(pipeline_run.split, 50)
    body = json.dumps({"records": records}).encode()
    for _ in range(ABORTS):
        abort_upload(server.port, body)
    text = wait_for_metric(server, "greenlight_client_aborts_total", ABORTS)
    assert metric(text, "greenlight_client_aborts_total") == ABORTS
    requests = "bentoml_service_request_total"
    assert metric(text, requests, endpoint="/predict", http_response_code="500") == 0
    assert metric(text, requests, endpoint="/predict") == 0  # no answer was counted at all
    answer = httpx.post(f"{server.base_url}/predict", json={"records": records[:1]}, timeout=10)
    assert answer.status_code == 200
    log = server.log_text()
    assert "Traceback" not in log and "Exception on" not in log and "ClientDisconnect" not in log


def test_a_nan_from_the_model_is_a_counted_logged_500(
    nan_server: tuple[RunningServer, Path], pipeline_run: PipelineRun
) -> None:
    server, flag = nan_server
    records: list[dict[str, Any]] = input_records(pipeline_run.split, 3)
    url = f"{server.base_url}/predict"
    before = httpx.get(f"{server.base_url}/metrics", timeout=5).text
    flag.touch()
    try:
        failed = httpx.post(url, json={"records": records}, timeout=10)
    finally:
        flag.unlink()
    version = json.loads((pipeline_run.bundle / "manifest.json").read_text())["model_version"]
    assert failed.status_code == 500
    assert "null" not in failed.text
    assert version in failed.json()["error"] and "not a probability" in failed.json()["error"]
    after = httpx.get(f"{server.base_url}/metrics", timeout=5).text
    errors = "greenlight_model_output_errors_total"
    grown = metric(after, errors, model_version=version) - metric(before, errors)
    assert grown == 1
    request_500 = {"endpoint": "/predict", "http_response_code": "500"}
    requests = "bentoml_service_request_total"
    assert metric(after, requests, **request_500) == metric(before, requests, **request_500) + 1
    request_id = failed.json()["request_id"]
    [line] = [line for line in server.log_text().splitlines() if request_id in line]
    assert version in line and "not a probability" in line
    assert httpx.post(url, json={"records": records}, timeout=10).status_code == 200
    logged = Path(server.settings["--prediction-log"]).read_text()
    assert request_id not in logged  # an answer nobody got is not logged as a prediction


@dataclass
class Load:
    """Bounded load: `clients` keep-alive connections, each at most `per_client` requests of
    `batch` records, until `stop` is set or the service stops answering."""

    port: int
    body: bytes
    clients: int = 4
    per_client: int = 400
    answered: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, request id)
    failed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def client(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"content-type": "application/json"}
        for _ in range(self.per_client):
            if self.stop.is_set():
                break
            try:
                connection.request("POST", "/predict", body=self.body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                self.failed += 1
                break  # the service is gone
            if response.status == 200:
                self.answered.append((time.monotonic(), response.headers["X-Request-ID"]))
        connection.close()


def logged_lines(path: Path) -> dict[str, int]:
    """Lines per request id; a last line cut short by the kill is not counted."""
    counts: dict[str, int] = {}
    for line in path.read_text().splitlines():
        try:
            request_id = json.loads(line)["request_id"]
        except json.JSONDecodeError:
            continue
        counts[request_id] = counts.get(request_id, 0) + 1
    return counts


def test_sigkill_under_load_loses_at_most_the_flush_interval(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    flush_s, batch = 0.5, 5
    log = tmp_path / "predictions.jsonl"
    body = json.dumps({"records": input_records(pipeline_run.split, batch)}).encode()
    environment = {"GREENLIGHT_LOG_FLUSH_SECONDS": str(flush_s)}
    with RunningServer.start(pipeline_run.bundle, log, environment=environment) as server:
        load = Load(server.port, body)
        threads = [threading.Thread(target=load.client) for _ in range(load.clients)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        # Enough answers, and some older than the flush interval (on a fast machine 300 come in
        # under a second, none of them yet due on disk): only those can show a loss.
        while time.monotonic() < deadline and not (
            len(load.answered) >= 300 and load.answered[0][0] < time.monotonic() - flush_s - 1.0
        ):
            time.sleep(0.05)
        tree = server.tree()
        killed_at = time.monotonic()
        for process in tree:
            process.kill()  # SIGKILL: no shutdown flush, no atexit
        load.stop.set()
        for thread in threads:
            thread.join(30)
    on_disk = logged_lines(log)
    settled = [rid for at, rid in load.answered if at < killed_at - flush_s - 0.5]
    missing = [rid for rid in settled if on_disk.get(rid, 0) != batch]
    recent = [rid for at, rid in load.answered if at >= killed_at - flush_s - 0.5]
    lost_recent = [rid for rid in recent if on_disk.get(rid, 0) != batch]
    print(
        f"\nSIGKILL under load: {len(load.answered)} requests answered ({batch} records each), "
        f"{sum(on_disk.values())} lines on disk; answered more than {flush_s + 0.5:g} s before "
        f"the kill: {len(settled)}, all on disk but {len(missing)}; in the last "
        f"{flush_s + 0.5:g} s: {len(recent)}, {len(lost_recent)} not on disk"
    )
    assert len(load.answered) >= 300 and settled
    assert missing == []
    assert not [
        process.pid
        for process in tree
        if psutil.pid_exists(process.pid)
        and psutil.Process(process.pid).status() != psutil.STATUS_ZOMBIE
    ]
