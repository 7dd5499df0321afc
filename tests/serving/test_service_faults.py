"""The real service under faults that must never be silent or mistaken: a client that hangs up
mid-body is not a server error; a model that answers NaN is one (a 500, counted and logged with
the model version), never a 200 with `null`."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_support import input_records

from conftest import PipelineRun
from greenlight.serving.server import RunningServer

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
