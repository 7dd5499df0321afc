"""`serving.supervisor: false`: `greenlight serve` becomes BentoML's HTTP worker itself, one
process on the socket it bound, with BentoML's health and metrics endpoints, and a SIGTERM to that
PID stops it cleanly (the prediction log flushed)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from conftest import PipelineRun
from tools.harness.server import RunningServer

pytestmark = pytest.mark.slow


def test_one_process_serves_with_bentomls_endpoints_and_stops_on_sigterm(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    log = tmp_path / "predictions.jsonl"
    manifest = json.loads((pipeline_run.bundle / "manifest.json").read_text())
    record = manifest["known_answers"][0]["record"]
    environment = {"GREENLIGHT_SUPERVISOR": "false"}
    with RunningServer.start(pipeline_run.bundle, log, environment=environment) as server:
        assert [process.pid for process in server.tree()] == [server.pid]
        with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
            assert client.get("/livez").status_code == 200
            answer = client.post("/predict", json={"records": [record]})
            assert answer.status_code == 200, answer.text
            metrics = client.get("/metrics").text
        assert (
            'bentoml_service_request_total{endpoint="/predict",http_response_code="200"' in metrics
        )
        assert server.stop() == []  # SIGTERM was enough
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["request_id"] for line in lines] == [answer.headers["X-Request-ID"]]
