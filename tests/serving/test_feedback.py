"""POST /feedback's logic without a server: the body's checks, the decision, the index of the
prediction log (rotation, rewrites, unreadable lines) and the outcome recorder shared by several
workers. The real service over HTTP: test_service_http.py."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from serving_support import tiny_record, tiny_spec
from starlette.routing import Router

from greenlight.logformat import logged_features
from greenlight.outcomes import OutcomeError, read_outcome_log
from greenlight.serving.feedback import (
    Feedback,
    FeedbackRefused,
    OutcomeRecorder,
    decide,
    feedback_route,
    parse_feedback,
)
from greenlight.serving.logged_requests import LoggedRequests
from greenlight.serving.prediction_log import Entry, RotatingFile, format_entry
from greenlight.serving.settings import ServingSettings

LABELS = (">50K", "<=50K")
SENSITIVE = ("sex", "race")
NOW = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
SPEC = tiny_spec()
COLUMNS = logged_features(SPEC.feature_columns(use_sensitive=True), SPEC.sensitive)


async def post(app: Router, content: bytes) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/feedback", content=content)


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_a_good_body_is_parsed_and_record_may_be_left_out() -> None:
    assert parse_feedback(body(request_id="a1", record=2, label=">50K"), LABELS, SENSITIVE) == (
        Feedback("a1", 2, ">50K")
    )
    assert parse_feedback(body(request_id="a1", label="<=50K"), LABELS, SENSITIVE) == (
        Feedback("a1", None, "<=50K")
    )


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (body(request_id="a1", label="maybe"), "label 'maybe' is not one of"),
        (body(request_id="", label=">50K"), "request_id must be a non-empty string"),
        (body(request_id=7, label=">50K"), "request_id must be a non-empty string"),
        (body(request_id="a1", record=-1, label=">50K"), "record must be an integer >= 0"),
        (body(request_id="a1", record=True, label=">50K"), "record must be an integer >= 0"),
        (body(request_id="a1"), "missing column(s) ['label']"),
        (body(request_id="a1", label=">50K", note="x"), "unexpected ['note']"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_bad_body_is_refused_naming_the_problem(raw: bytes, words: str) -> None:
    with pytest.raises(OutcomeError, match="POST /feedback") as refused:
        parse_feedback(raw, LABELS, SENSITIVE)
    assert words in str(refused.value)


def test_a_sensitive_attribute_is_refused_by_name_never_by_value() -> None:
    raw = body(request_id="a1", label=">50K", sex="Female-secret")
    with pytest.raises(OutcomeError, match="sensitive attributes never go into the outcome log"):
        parse_feedback(raw, LABELS, SENSITIVE)
    with pytest.raises(OutcomeError) as refused:
        parse_feedback(raw, LABELS, SENSITIVE)
    assert "'sex'" in str(refused.value)
    assert "Female-secret" not in str(refused.value)


@pytest.mark.parametrize(
    ("feedback", "records", "recorded", "status", "words"),
    [
        (Feedback("a1", None, ">50K"), None, set(), 404, "names no prediction"),
        (Feedback("a1", 3, ">50K"), 3, set(), 404, "there is no record 3"),
        (Feedback("a1", None, ">50K"), 2, set(), 400, "give record (0 to 1)"),
        (Feedback("a1", 1, ">50K"), 2, {1}, 409, "already recorded"),
    ],
)
def test_the_decision_refuses_with_the_status_and_the_reason(
    feedback: Feedback, records: int | None, recorded: set[int], status: int, words: str
) -> None:
    with pytest.raises(FeedbackRefused) as refused:
        decide(feedback, records, recorded)
    assert refused.value.status == status
    assert words in str(refused.value)


def test_the_decision_accepts_a_new_outcome_of_a_logged_record() -> None:
    one = decide(Feedback("a1", None, ">50K"), 1, set())
    assert (one.key, one.label) == (("a1", 0), ">50K")
    assert decide(Feedback("a1", 1, "<=50K"), 2, {0}).key == ("a1", 1)


def log_request(file: RotatingFile, request_id: str, count: int = 1) -> None:
    rows = [tiny_record(age=20 + index) for index in range(count)]
    entry = Entry(1_700_000_000.0, request_id, "v1", rows, ["yes"] * count, [0.75] * count)
    file.append(format_entry(entry, COLUMNS))


def test_the_index_knows_logged_requests_and_their_record_counts(tmp_path: Path) -> None:
    file = RotatingFile(tmp_path / "predictions.jsonl", max_bytes=1_000_000, keep=2)
    index = LoggedRequests(file.path, keep=2)
    log_request(file, "r1", 3)
    assert index.records("r1") is None  # nothing read yet
    index.refresh()
    assert (index.records("r1"), index.records("r2")) == (3, None)
    log_request(file, "r2")
    with file.path.open("a") as stream:
        stream.write('{"log_format": 1, "request_id": "half')  # still being written
    index.refresh()
    assert (index.records("r1"), index.records("r2"), index.records("half")) == (3, 1, None)
    assert index.unreadable == 0


def test_rotation_keeps_ids_until_they_leave_the_log_and_counts_them(tmp_path: Path) -> None:
    # each request's line fills a file: every append rotates
    file = RotatingFile(tmp_path / "predictions.jsonl", max_bytes=100, keep=2)
    index = LoggedRequests(file.path, keep=2)
    for request_id in ("r1", "r2", "r3"):
        log_request(file, request_id)
        index.refresh()
    assert [index.records(rid) for rid in ("r1", "r2", "r3")] == [1, 1, 1]
    log_request(file, "r4")
    assert index.refresh() == {"r1"}
    assert [index.records(rid) for rid in ("r1", "r2", "r3", "r4")] == [None, 1, 1, 1]
    assert index.forgotten == 1


def test_a_file_rewritten_in_place_is_read_again_from_its_start(tmp_path: Path) -> None:
    file = RotatingFile(tmp_path / "predictions.jsonl", max_bytes=1_000_000, keep=2)
    index = LoggedRequests(file.path, keep=2)
    log_request(file, "r1")
    index.refresh()
    inode = file.path.stat().st_ino
    with file.path.open("r+") as stream:  # same inode, other content
        stream.truncate(0)
    log_request(file, "r2")
    log_request(file, "r3")
    assert file.path.stat().st_ino == inode
    assert index.refresh() == {"r1"}
    assert (index.records("r1"), index.records("r2"), index.records("r3")) == (None, 1, 1)


def test_an_unreadable_line_is_counted_not_indexed(tmp_path: Path) -> None:
    file = RotatingFile(tmp_path / "predictions.jsonl", max_bytes=1_000_000, keep=2)
    with file.path.open("a") as stream:
        stream.write('{"log_format": 1, "request_id": "cut{"log_format": 1\n')
        stream.write('{"log_format": 9, "request_id": "other"}\n')
    log_request(file, "r1")
    index = LoggedRequests(file.path, keep=2)
    index.refresh()
    assert (index.unreadable, index.records("r1"), index.records("other")) == (2, 1, None)


def recorder(tmp_path: Path, file: RotatingFile) -> OutcomeRecorder:
    return OutcomeRecorder(LoggedRequests(file.path, 2), tmp_path / "outcomes.jsonl", LABELS)


def test_recorded_outcomes_are_the_import_format_and_never_recorded_twice(tmp_path: Path) -> None:
    file = RotatingFile(tmp_path / "predictions.jsonl", max_bytes=1_000_000, keep=2)
    log_request(file, "r1", 2)
    first, second = recorder(tmp_path, file), recorder(tmp_path, file)  # two workers
    first.record(Feedback("r1", 0, ">50K"), NOW)
    with pytest.raises(FeedbackRefused) as again:
        second.record(Feedback("r1", 0, "<=50K"), NOW)  # the other worker's outcome is seen
    assert again.value.status == 409
    second.record(Feedback("r1", 1, "<=50K"), NOW)
    with pytest.raises(FeedbackRefused, match="already recorded"):
        first.record(Feedback("r1", 1, ">50K"), NOW)
    logged = read_outcome_log(tmp_path / "outcomes.jsonl", LABELS)
    assert [(outcome.key, outcome.label) for outcome in logged] == [
        (("r1", 0), ">50K"),
        (("r1", 1), "<=50K"),
    ]


def test_an_unreadable_outcome_log_is_a_500_every_time_not_skipped(tmp_path: Path) -> None:
    file = RotatingFile(tmp_path / "predictions.jsonl", max_bytes=1_000_000, keep=2)
    log_request(file, "r1", 2)
    (tmp_path / "outcomes.jsonl").write_text('{"outcome_format": 7}\n')
    worker = recorder(tmp_path, file)
    for _ in range(2):
        with pytest.raises(FeedbackRefused, match="outcome_format 7") as broken:
            worker.record(Feedback("r1", 0, ">50K"), NOW)
        assert broken.value.status == 500
    assert (tmp_path / "outcomes.jsonl").read_text() == '{"outcome_format": 7}\n'


def test_without_a_prediction_log_every_feedback_is_unknown_and_says_why(tmp_path: Path) -> None:
    settings = ServingSettings(prediction_log=tmp_path / "p.jsonl", log_predictions=False)
    counted: list[tuple[str, int]] = []
    route = feedback_route(settings, SPEC, lambda name, amount: counted.append((name, amount)))
    answer = asyncio.run(post(Router(routes=[route]), body(request_id="r1", label=">50K")))
    assert answer.status_code == 404
    assert "serving.log_predictions: false" in answer.json()["error"]
    assert counted == [("unknown", 1)]
    assert not (tmp_path / "outcomes.jsonl").exists()
