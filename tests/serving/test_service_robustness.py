"""The real service under abuse and failure: 600 malformed requests get 4xx and never a 5xx; a
tampered bundle never becomes ready and says why; SIGTERM stops the server with every prediction
logged."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from serving_support import input_records

from conftest import PipelineRun
from tools.harness.server import RunningServer

pytestmark = pytest.mark.slow

JSON = {"content-type": "application/json"}
WRONG_VALUES: list[Any] = ["", "39", 39.5, True, None, [], {}, -1, 10**30, "\u0000", "x" * 1000]


def mutated_records(good: dict[str, Any], rng: random.Random) -> Iterator[dict[str, Any]]:
    """Records that break the Adult contract in one or two places."""
    required = ["age", "fnlwgt", "education", "education_num", "marital_status", "relationship"]
    for name in [*required, "capital_gain", "hours_per_week", "workclass", "sex"]:
        for value in WRONG_VALUES:
            nullable_ok = value is None and name in ("workclass",)
            if not nullable_ok:
                yield {**good, name: value}
    for name in required:
        yield {key: value for key, value in good.items() if key != name}
    for extra in ["income", "Age", "id", "", "__class__", "features"]:
        yield {**good, extra: rng.choice(WRONG_VALUES[:6])}
    for _ in range(300):
        record = dict(good)
        for name in rng.sample(required, 2):
            record[name] = rng.choice(WRONG_VALUES)
        yield record


def malformed_bodies(good: dict[str, Any], seed: int = 5) -> Iterator[tuple[bytes, dict[str, str]]]:
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not a secret)
    for record in mutated_records(good, rng):
        yield json.dumps({"records": [good, record]}).encode(), JSON
    valid = json.dumps({"records": [good]})
    for cut in range(1, len(valid), max(1, len(valid) // 60)):
        yield valid[:cut].encode(), JSON  # truncated JSON
    shapes = [
        "[]",
        "{}",
        "null",
        "1",
        '"records"',
        '{"records": null}',
        '{"records": [[]]}',
        '{"records": [1, 2]}',
        '{"records": "all"}',
        '{"records": [{}]}',
        '{"Records": []}',
        '{"records": []}',
        "[" * 5000 + "]" * 5000,
        '{"records": [' + "{}," * 60 + "{}]}",
    ]
    for shape in shapes:
        yield shape.encode(), JSON
    for literal in ["NaN", "Infinity", "-Infinity", "1e999", "0x10", "+1", "01"]:
        yield valid.replace(f'"age": {good["age"]}', f'"age": {literal}').encode(), JSON
    for _ in range(40):
        yield rng.randbytes(rng.randint(1, 300)), JSON
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/vnd.bentoml+pickle",
        "application/xml",
        "",
    ]:
        yield valid.encode(), {"content-type": content_type}


@pytest.fixture(scope="module")
def server(
    pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("fuzz-log") / "predictions.jsonl"
    environment = {"GREENLIGHT_MAX_BATCH": "50"}
    with RunningServer.start(pipeline_run.bundle, log, environment=environment) as running:
        yield running


def test_malformed_requests_never_get_a_5xx(
    server: RunningServer, pipeline_run: PipelineRun
) -> None:
    good = input_records(pipeline_run.split, 1)[0]
    bodies = list(malformed_bodies(good))
    assert len(bodies) >= 500
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        for body, headers in bodies:
            status = client.post("/predict", content=body, headers=headers).status_code
            statuses[status] = statuses.get(status, 0) + 1
        assert set(statuses) <= {400, 411, 413, 415}, statuses
        assert client.get("/readyz").status_code == 200
        answer = client.post("/predict", json={"records": [good]})
        assert answer.status_code == 200
    assert "Traceback" not in server.log_text()


def test_a_tampered_bundle_never_becomes_ready(
    bundle_copy: Path, tmp_path: Path, pipeline_run: PipelineRun
) -> None:
    with (bundle_copy / "estimator.skops").open("ab") as stream:
        stream.write(b"\0")
    good = input_records(pipeline_run.split, 1)
    with RunningServer.start(bundle_copy, tmp_path / "p.jsonl", ready_within=None) as server:
        deadline = time.monotonic() + 90
        while server.status("/livez") != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server.status("/livez") == 200
        for _ in range(5):
            assert server.status("/readyz") == 503
            time.sleep(0.5)
        refused = httpx.post(f"{server.base_url}/predict", json={"records": good}, timeout=10)
        text = server.log_text()
    assert refused.status_code == 503
    assert "estimator.skops" in refused.json()["error"]
    [line] = [line for line in text.splitlines() if "NOT READY" in line]
    assert "estimator.skops" in line and "does not match the manifest" in line


def test_sigterm_stops_everything_and_flushes_the_log(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    log = tmp_path / "predictions.jsonl"
    records = input_records(pipeline_run.split, 30)
    environment = {"GREENLIGHT_LOG_FLUSH_SECONDS": "60"}  # only the shutdown flush can write them
    with RunningServer.start(pipeline_run.bundle, log, environment=environment) as server:
        with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
            for start in range(0, 30, 10):
                assert (
                    client.post(
                        "/predict", json={"records": records[start : start + 10]}
                    ).status_code
                    == 200
                )
        children = psutil.Process(server.pid).children(recursive=True)
        assert children  # the worker
        os.kill(server.pid, signal.SIGTERM)
        assert server.exit_code(30) == 0
    assert not [
        child.pid for child in children if child.is_running() and child.status() != "zombie"
    ]
    assert len(log.read_text().splitlines()) == 30
