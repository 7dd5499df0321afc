"""POST /feedback: the true label of one logged prediction, reported late, appended to the outcome
log (docs/outcome-log.md) with the same checks and the same line as `greenlight outcomes import`
(greenlight/outcomes.py: one way to read, check and write an outcome).

    {"request_id": "<the X-Request-ID of the prediction>", "record": 0, "label": ">50K"}

`record` (the record's position within its request) may be left out for a one-record request.
Answers: 201 with the recorded outcome; 400 for a body that is not exactly these fields (a
sensitive attribute is refused by name, its value never echoed) or a label outside the spec; 404
for a request id the prediction log does not hold (serving/logged_requests.py) or a record beyond
its request; 409 for an outcome already recorded (never replaced); 500 when the outcome log cannot
be read or written. Parsing and the decision are pure; `OutcomeRecorder` is the I/O."""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from greenlight import outcomes
from greenlight.errors import GreenlightError
from greenlight.filelock import locked
from greenlight.logformat import json_object
from greenlight.outcomes import LABEL_FIELDS, Outcome, OutcomeError
from greenlight.serving.logged_requests import LoggedRequests, Tail
from greenlight.serving.settings import ServingSettings
from greenlight.spec import DatasetSpec

logger = logging.getLogger("greenlight.serving")
WHERE = "POST /feedback"
MAX_BODY_BYTES = 16_384  # three short fields; the request guard answers 413 beyond this


class FeedbackRefused(GreenlightError):
    """A feedback the service will not record: `status` is its HTTP answer, `result` its count."""

    def __init__(self, status: int, result: str, message: str) -> None:
        super().__init__(message)
        self.status, self.result = status, result


@dataclass(frozen=True)
class Feedback:
    request_id: str
    record: int | None  # None: not given (a one-record request's record 0)
    label: str


def parse_feedback(body: bytes, labels: Collection[str], sensitive: Collection[str]) -> Feedback:
    """The body as a Feedback; OutcomeError naming the field at fault (never a sensitive value)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise OutcomeError(f"{WHERE}: the body is not UTF-8 ({error.reason})") from error
    row = json_object(text, WHERE, OutcomeError)
    outcomes.check_columns(WHERE, row.keys(), LABEL_FIELDS, sensitive, optional=("record",))
    parsed = outcomes.parse_outcome(WHERE, {"record": 0, **row}, labels)
    return Feedback(parsed.request_id, parsed.record if "record" in row else None, parsed.label)


def decide(feedback: Feedback, records: int | None, recorded: Collection[int]) -> Outcome:
    """The outcome to append, or FeedbackRefused saying why not."""
    request_id = feedback.request_id
    if records is None:
        raise FeedbackRefused(404, "unknown", unknown_message(request_id))
    record = feedback.record
    if record is None and records > 1:
        message = f"request {request_id} had {records} records: give record (0 to {records - 1})"
        raise FeedbackRefused(400, "invalid", f"{WHERE}: {message}")
    record = record or 0
    if record >= records:
        message = f"request {request_id} had {records} record(s): there is no record {record}"
        raise FeedbackRefused(404, "unknown", f"{WHERE}: {message}")
    if record in recorded:
        message = f"an outcome for {request_id}/{record} is already recorded; it is never replaced"
        raise FeedbackRefused(409, "duplicate", f"{WHERE}: {message}")
    return Outcome(request_id, record, feedback.label, WHERE)


def unknown_message(request_id: str) -> str:
    return (
        f"{WHERE}: request_id {request_id} names no prediction in this service's prediction log "
        "(unknown, rotated out of the log, or not flushed yet: lines reach the log within "
        "serving.log_flush_seconds)"
    )


@dataclass
class OutcomeRecorder:
    """Appends outcomes to `path` for the requests `requests` knows; one at a time per process,
    and under the outcome log's lock, so workers and `outcomes import` never record one twice."""

    requests: LoggedRequests
    path: Path
    labels: Collection[str]
    recorded: dict[str, set[int]] = field(default_factory=dict)  # only requests still logged
    tail: Tail | None = None
    guard: threading.Lock = field(default_factory=threading.Lock)

    def record(self, feedback: Feedback, now: datetime) -> Outcome:
        with self.guard, locked(self.path):
            # predictions first: an outcome line only ever names a prediction already logged
            for request_id in self.requests.refresh():
                self.recorded.pop(request_id, None)
            self._catch_up()
            records = self.requests.records(feedback.request_id)
            outcome = decide(feedback, records, self.recorded.get(feedback.request_id, set()))
            self._append(outcome, now)
        return outcome

    def _catch_up(self) -> None:
        """Note the outcome lines appended by anyone since the last call (all of them again
        after a hand edit rewrote the file, or after a line that could not be read)."""
        if not self.path.exists():
            return
        if self.tail is None or not self.tail.same_file(self.path, self.path.stat()):
            self.tail, self.recorded = Tail(self.path.stat().st_ino), {}
        first = self.tail.lines + 1
        try:
            for number, text in enumerate(self.tail.new_lines(self.path), start=first):
                if text.strip():
                    self._note(outcomes.parse_log_line(text, f"{self.path}:{number}", self.labels))
        except OutcomeError as error:
            self.tail = None  # read it whole again next time: no line is skipped
            message = f"the outcome log cannot be read: {error}"
            raise FeedbackRefused(500, "error", message) from error

    def _note(self, outcome: Outcome) -> None:
        """Remember a recorded key while its request can still get feedback (it is logged)."""
        if self.requests.records(outcome.request_id) is not None:
            self.recorded.setdefault(outcome.request_id, set()).add(outcome.record)

    def _append(self, outcome: Outcome, now: datetime) -> None:
        try:
            outcomes.append_outcomes(self.path, [outcome], now)
        except OSError as error:
            raise FeedbackRefused(500, "error", f"outcome log {self.path}: {error}") from error
        self.recorded.setdefault(outcome.request_id, set()).add(outcome.record)


def _ignore(name: str, amount: int) -> None:
    return None


@dataclass
class FeedbackRoute:
    """The endpoint. `count(name, amount)` counts each answer by result (recorded, invalid,
    unknown, duplicate, error) and the index's forgotten requests and unreadable lines."""

    recorder: OutcomeRecorder
    sensitive: Collection[str]
    count: Callable[[str, int], object] = _ignore
    reported: dict[str, int] = field(default_factory=lambda: {"forgotten": 0, "unreadable": 0})

    async def handle(self, request: Request) -> Response:
        try:
            feedback = parse_feedback(await request.body(), self.recorder.labels, self.sensitive)
            outcome = await run_in_threadpool(self.recorder.record, feedback, datetime.now(UTC))
        except OutcomeError as error:
            return self._answer(400, "invalid", {"error": str(error)})
        except FeedbackRefused as error:
            return self._answer(error.status, error.result, {"error": str(error)})
        body = {"request_id": outcome.request_id, "record": outcome.record, "label": outcome.label}
        return self._answer(201, "recorded", body)

    def _answer(self, status: int, result: str, body: dict[str, object]) -> Response:
        if status >= 500:
            logger.error("%s: %s", WHERE, body["error"])
        self.count(result, 1)
        requests = self.recorder.requests
        for name, total in (("forgotten", requests.forgotten), ("unreadable", requests.unreadable)):
            if total > self.reported[name]:
                self.count(name, total - self.reported[name])
                self.reported[name] = total
        return JSONResponse(body, status_code=status)


LOG_OFF = (
    f"{WHERE}: this service keeps no prediction log (serving.log_predictions: false), so no "
    "prediction can get feedback"
)


def _log_off(count: Callable[[str, int], object]) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint when there is no prediction log: every feedback names an unknown request."""

    async def handle(_: Request) -> Response:
        count("unknown", 1)
        return JSONResponse({"error": LOG_OFF}, status_code=404)

    return handle


def feedback_route(
    settings: ServingSettings, spec: DatasetSpec, count: Callable[[str, int], object] = _ignore
) -> Route:
    """POST /feedback for the service's prediction log and outcome log (serving settings)."""
    if not settings.log_predictions:
        return Route("/feedback", _log_off(count), methods=["POST"])
    requests = LoggedRequests(settings.prediction_log, settings.log_keep)
    labels = (spec.target.positive, spec.target.negative)
    recorder = OutcomeRecorder(requests, settings.outcome_path, labels)
    route = FeedbackRoute(recorder, tuple(spec.sensitive), count)
    return Route("/feedback", route.handle, methods=["POST"])
