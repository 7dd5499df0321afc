"""The real service (`greenlight serve` on a free 127.0.0.1 port, the sample bundle): predictions
equal the in-process bundle, health and metrics endpoints, the prediction log, 4xx answers that
name the problem, and POST /feedback into the outcome log."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from serving_support import input_records

from conftest import PipelineRun
from greenlight.artifacts import Bundle, load_bundle
from greenlight.outcomes import read_outcome_log
from tools.harness.server import RunningServer

pytestmark = pytest.mark.slow

MAX_BATCH = 50
MAX_BODY = 200_000
LABELS = (">50K", "<=50K")


@pytest.fixture(scope="module")
def bundle(pipeline_run: PipelineRun) -> Bundle:
    return load_bundle(pipeline_run.bundle)


@pytest.fixture(scope="module")
def log_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serving-log") / "predictions.jsonl"


@pytest.fixture(scope="module")
def server(pipeline_run: PipelineRun, log_path: Path) -> Iterator[RunningServer]:
    environment = {
        "GREENLIGHT_MAX_BATCH": str(MAX_BATCH),
        "GREENLIGHT_MAX_BODY_BYTES": str(MAX_BODY),
        "GREENLIGHT_LOG_FLUSH_SECONDS": "0.1",
    }
    with RunningServer.start(pipeline_run.bundle, log_path, environment=environment) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30.0) as session:
        yield session


@pytest.fixture(scope="module")
def records(pipeline_run: PipelineRun) -> list[dict[str, Any]]:
    return input_records(pipeline_run.split, 200)


def predict(client: httpx.Client, body: Any) -> httpx.Response:
    return client.post("/predict", json=body)


def test_health_endpoints(client: httpx.Client) -> None:
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_predictions_equal_the_in_process_bundle(
    client: httpx.Client, bundle: Bundle, records: list[dict[str, Any]]
) -> None:
    expected = bundle.predict_proba(pd.DataFrame(records))
    served = []
    for start in range(0, len(records), MAX_BATCH):
        response = predict(client, {"records": records[start : start + MAX_BATCH]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_version"] == bundle.version
        served.extend(body["predictions"])
    np.testing.assert_allclose([p["probability"] for p in served], expected, rtol=1e-9)
    target = bundle.spec.target
    for prediction, probability in zip(served, expected, strict=True):
        positive = probability >= bundle.threshold
        assert prediction["label"] == (target.positive if positive else target.negative)


def test_single_records_keep_their_answer(client: httpx.Client, bundle: Bundle) -> None:
    for answer in bundle.manifest["known_answers"][:5]:
        [prediction] = predict(client, {"records": [answer["record"]]}).json()["predictions"]
        assert prediction["probability"] == pytest.approx(answer["probability"], abs=1e-9)


def test_sensitive_attributes_do_not_change_the_prediction(
    client: httpx.Client, bundle: Bundle, records: list[dict[str, Any]]
) -> None:
    assert not set(bundle.spec.sensitive) & set(bundle.features)
    record = records[0]
    flipped = {**record, "sex": "Female" if record["sex"] == "Male" else "Male", "race": "Other"}
    omitted = {key: value for key, value in record.items() if key not in bundle.spec.sensitive}
    answers = [
        predict(client, {"records": [variant]}).json()["predictions"][0]
        for variant in (record, flipped, omitted)
    ]
    assert answers[0] == answers[1] == answers[2]


def problems(response: httpx.Response) -> list[tuple[list[Any], str]]:
    return [(problem["loc"], problem["msg"]) for problem in response.json()["detail"]]


def test_bad_records_get_400_naming_field_and_problem(
    client: httpx.Client, records: list[dict[str, Any]]
) -> None:
    good = records[0]
    cases = [
        ({**good, "age": "39"}, "age", "valid integer"),
        ({**good, "age": 300}, "age", "less than or equal to 100"),
        ({**good, "education": "Kindergarten"}, "education", "'Bachelors'"),
        ({**good, "income": ">50K"}, "income", "Extra inputs are not permitted"),
        ({**good, "favourite_colour": "blue"}, "favourite_colour", "Extra inputs"),
        (
            {key: value for key, value in good.items() if key != "fnlwgt"},
            "fnlwgt",
            "Field required",
        ),
    ]
    for record, field, words in cases:
        response = predict(client, {"records": [good, record]})
        assert response.status_code == 400
        [(location, message)] = problems(response)
        assert location == ["records", 1, field]
        assert words in message


def test_batch_size_and_body_problems_are_4xx(
    client: httpx.Client, records: list[dict[str, Any]]
) -> None:
    assert predict(client, {"records": []}).status_code == 400
    too_many = predict(client, {"records": [records[0]] * (MAX_BATCH + 1)})
    assert too_many.status_code == 400
    assert f"at most {MAX_BATCH} items" in problems(too_many)[0][1]
    nan = json.dumps({"records": [records[0]]}).replace('"age": ', '"age": NaN, "x": ')
    assert (
        client.post(
            "/predict", content=nan, headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    broken = client.post(
        "/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert "Invalid JSON" in problems(broken)[0][1]


def test_transport_problems_are_4xx(client: httpx.Client) -> None:
    text = client.post("/predict", content=b"{}", headers={"content-type": "text/plain"})
    assert (text.status_code, text.json()["error"]) == (
        415,
        "content-type must be application/json (got text/plain)",
    )
    huge = client.post(
        "/predict", content=b" " * (MAX_BODY + 1), headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    chunked = client.post(
        "/predict", content=iter([b'{"records": []}']), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 411
    assert client.get("/predict").status_code == 405


def metric_value(text: str, name: str, **labels: str) -> float:
    """The sample of `name` whose labels include `labels` (0 when there is none)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{key}="{value}"' in match.group(1) for key, value in labels.items()):
            return float(match.group(2))
    return 0.0


def test_metrics_count_requests_latency_and_predicted_classes(
    client: httpx.Client, bundle: Bundle, records: list[dict[str, Any]]
) -> None:
    before = client.get("/metrics").text
    body = predict(client, {"records": records[:20]}).json()
    predict(client, {"records": []})
    after = client.get("/metrics").text
    target = bundle.spec.target
    for label in (target.positive, target.negative):
        expected = sum(1 for p in body["predictions"] if p["label"] == label)
        grown = metric_value(after, "greenlight_predictions_total", label=label) - metric_value(
            before, "greenlight_predictions_total", label=label
        )
        assert grown == expected
    requests = "bentoml_service_request_total"
    ok = {"endpoint": "/predict", "http_response_code": "200"}
    assert metric_value(after, requests, **ok) == metric_value(before, requests, **ok) + 1
    bad = {"endpoint": "/predict", "http_response_code": "400"}
    assert metric_value(after, requests, **bad) == metric_value(before, requests, **bad) + 1
    histogram = "bentoml_service_request_duration_seconds_bucket"
    assert metric_value(after, histogram, endpoint="/predict", le="+Inf") > 0


def wait_for_lines(path: Path, request_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        lines = (
            [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        )
        mine = [line for line in lines if line["request_id"] == request_id]
        if len(mine) >= count:
            return mine
        time.sleep(0.1)
    raise AssertionError(f"{count} log lines for {request_id} not written within 15 s")


def test_prediction_log_has_format_v1_and_no_sensitive_fields(
    client: httpx.Client, bundle: Bundle, records: list[dict[str, Any]], log_path: Path
) -> None:
    batch = records[:7]
    response = predict(client, {"records": batch})
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    lines = wait_for_lines(log_path, request_id, len(batch))
    logged = [name for name in bundle.features if name not in bundle.spec.sensitive]
    for line, record, prediction in zip(lines, batch, response.json()["predictions"], strict=True):
        assert set(line) == {
            "log_format",
            "timestamp",
            "request_id",
            "model_version",
            "features",
            "prediction",
        }
        assert line["log_format"] == 1
        assert line["timestamp"].endswith("Z")
        assert line["model_version"] == bundle.version
        assert list(line["features"]) == logged
        assert line["features"] == {name: record[name] for name in logged}
        assert line["prediction"] == prediction
    text = log_path.read_text()
    assert '"sex"' not in text and '"race"' not in text and '"income"' not in text


def test_concurrent_requests_each_get_their_own_predictions(
    server: RunningServer, bundle: Bundle, records: list[dict[str, Any]], log_path: Path
) -> None:
    """Requests arriving together share model calls (serving.coalesce); answers must not mix."""
    expected = bundle.predict_proba(pd.DataFrame(records))
    batches = [(start, start + 1 + start % 4) for start in range(0, 120, 5)]

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as session:
            calls = [session.post("/predict", json={"records": records[a:b]}) for a, b in batches]
            return await asyncio.gather(*calls)

    responses = asyncio.run(send_all())
    for (start, end), response in zip(batches, responses, strict=True):
        probabilities = [p["probability"] for p in response.json()["predictions"]]
        np.testing.assert_allclose(probabilities, expected[start:end], rtol=1e-9)
        lines = wait_for_lines(log_path, response.headers["x-request-id"], end - start)
        assert [line["prediction"]["probability"] for line in lines] == probabilities


def feedback(client: httpx.Client, **fields: Any) -> httpx.Response:
    return client.post("/feedback", json=fields)


def logged_request(client: httpx.Client, batch: list[dict[str, Any]], log_path: Path) -> str:
    """A prediction's request id, once its lines are in the log (where /feedback looks)."""
    request_id = predict(client, {"records": batch}).headers["x-request-id"]
    wait_for_lines(log_path, request_id, len(batch))
    return request_id


def test_feedback_appends_the_true_label_to_the_outcome_log(
    client: httpx.Client, bundle: Bundle, records: list[dict[str, Any]], log_path: Path
) -> None:
    request_id = logged_request(client, records[:3], log_path)
    label = bundle.spec.target.positive
    before = client.get("/metrics").text
    answer = feedback(client, request_id=request_id, record=2, label=label)
    assert (answer.status_code, answer.json()) == (
        201,
        {"request_id": request_id, "record": 2, "label": label},
    )
    outcome_log = log_path.with_name("outcomes.jsonl")  # serving.outcome_log's default
    [outcome] = [o for o in read_outcome_log(outcome_log, LABELS) if o.request_id == request_id]
    assert (outcome.record, outcome.label) == (2, label)
    assert '"sex"' not in outcome_log.read_text() and '"race"' not in outcome_log.read_text()
    after = client.get("/metrics").text
    grown = metric_value(after, "greenlight_feedback_total", event="recorded")
    assert grown == metric_value(before, "greenlight_feedback_total", event="recorded") + 1
    again = feedback(client, request_id=request_id, record=2, label=bundle.spec.target.negative)
    assert again.status_code == 409
    assert "already recorded; it is never replaced" in again.json()["error"]


def test_feedback_refuses_unknown_ids_bad_labels_and_extra_fields(
    client: httpx.Client, records: list[dict[str, Any]], log_path: Path
) -> None:
    request_id = logged_request(client, records[:2], log_path)
    cases = [
        ({"request_id": "0" * 32, "label": ">50K"}, 404, "names no prediction"),
        ({"request_id": request_id, "record": 2, "label": ">50K"}, 404, "no record 2"),
        ({"request_id": request_id, "label": ">50K"}, 400, "give record (0 to 1)"),
        ({"request_id": request_id, "record": 0, "label": "yes"}, 400, "label 'yes' is not one"),
        ({"request_id": request_id, "record": 0, "label": ">50K", "note": 1}, 400, "['note']"),
        ({"request_id": request_id, "record": 0, "label": ">50K", "race": "X1"}, 400, "sensitive"),
    ]
    for fields, status, words in cases:
        answer = feedback(client, **fields)
        assert answer.status_code == status, (fields, answer.text)
        assert words in answer.json()["error"]
        assert "X1" not in answer.text
    text = client.post("/feedback", content=b"{}", headers={"content-type": "text/plain"})
    assert text.status_code == 415
    assert client.get("/feedback").status_code == 405
    assert not [
        o
        for o in read_outcome_log(log_path.with_name("outcomes.jsonl"), LABELS)
        if o.request_id == request_id
    ]
