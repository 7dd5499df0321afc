"""The BentoML service. `greenlight serve` runs it; the settings (bundle, log path, limits) come
from GREENLIGHT_* environment variables (serving/settings.py).

The request model is built at import time from the bundle's manifest (cheap: no model loaded);
the model itself is loaded and warmed up in the worker. A bundle that fails its hash check or its
known answers leaves the service alive but never ready, with one log line naming the problem."""

from __future__ import annotations

import logging
import os
from collections import Counter
from types import ModuleType
from typing import TYPE_CHECKING

# One thread per prediction: OpenMP's thread team costs more than it saves on small batches,
# and spins against the request threads on a busy machine. Set before scikit-learn loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import bentoml

from greenlight.errors import GreenlightError
from greenlight.manifest import read_manifest
from greenlight.serving.app import Hooks, PredictRoute, predict_app
from greenlight.serving.feedback import MAX_BODY_BYTES, feedback_route
from greenlight.serving.guard import RequestGuard
from greenlight.serving.logs import quiet_client_errors
from greenlight.serving.schema import PredictResponse, request_schema
from greenlight.serving.settings import from_environment
from greenlight.spec import DatasetSpec

if TYPE_CHECKING:
    from greenlight.serving.engine import Engine

logger = logging.getLogger("greenlight.serving")
# BentoML's server logging passes the root logger's WARNING and up; our startup facts are INFO.
logging.getLogger("greenlight").setLevel(logging.INFO)
quiet_client_errors()

SETTINGS = from_environment()
MANIFEST = read_manifest(SETTINGS.bundle)
SPEC = DatasetSpec.model_validate(MANIFEST["dataset"])
SCHEMA = request_schema(SPEC, MANIFEST["features"], SETTINGS.max_batch)

PREDICTIONS = bentoml.metrics.Counter(
    name="greenlight_predictions",
    documentation="Predicted records by predicted label and model version",
    labelnames=["label", "model_version"],
)

MODEL_OUTPUT_ERRORS = bentoml.metrics.Counter(
    name="greenlight_model_output_errors",
    documentation="Requests answered 500 because the model's output was not a finite probability",
    labelnames=["model_version"],
)
LOG_FAILURES = bentoml.metrics.Counter(
    name="greenlight_prediction_log_failures",
    documentation="Prediction-log writer failures: write errors, values not JSON, a full queue",
)
LOG_DROPPED = bentoml.metrics.Counter(
    name="greenlight_prediction_log_dropped",
    documentation="Prediction-log lines that will never reach the disk",
)
CLIENT_ABORTS = bentoml.metrics.Counter(
    name="greenlight_client_aborts",
    documentation="Requests whose client hung up before sending the declared body (not answered)",
)


def count_log_loss(reason: str, lines: int) -> None:
    """The prediction log's loss hook (called from its writer thread or the request path)."""
    LOG_FAILURES.inc()
    LOG_DROPPED.inc(lines)


def count_abort() -> None:
    CLIENT_ABORTS.inc()  # looked up per call: BentoML creates its metrics lazily, per worker


def count_model_error(model_version: str) -> None:
    MODEL_OUTPUT_ERRORS.labels(model_version=model_version).inc()


def count_predictions(response: PredictResponse) -> None:
    labels = Counter(prediction.label for prediction in response.predictions)
    for label, count in labels.items():
        PREDICTIONS.labels(label=label, model_version=response.model_version).inc(count)


FEEDBACK = bentoml.metrics.Counter(
    name="greenlight_feedback",
    documentation="POST /feedback answers by result (recorded, invalid, unknown, duplicate, "
    "error), and requests forgotten (rotated out of the log) or lines unreadable by its index",
    labelnames=["event"],
)


def count_feedback(event: str, amount: int) -> None:
    FEEDBACK.labels(event=event).inc(amount)


ROUTE = PredictRoute(SCHEMA, Hooks(count_predictions, count_model_error))
FEEDBACK_ROUTE = feedback_route(SETTINGS, SPEC, count_feedback)


def _engine_module() -> ModuleType:
    """Imported in the worker only: BentoML's supervisor imports this module too, and with the
    engine's scikit-learn, scipy and pandas it held as much memory as the worker. pandas and
    skops first, without what serving never uses (serving/imports.py)."""
    from greenlight.serving.imports import import_for_serving  # noqa: PLC0415

    import_for_serving()
    from greenlight.serving import engine  # noqa: PLC0415

    return engine


@bentoml.asgi_app(predict_app(ROUTE, FEEDBACK_ROUTE), path="/")
@bentoml.service(
    name="greenlight",
    workers=SETTINGS.workers,
    traffic={"timeout": 30},
    logging={"access": {"enabled": SETTINGS.access_log}},
    # No OpenTelemetry span per prediction: greenlight's request id and log already identify each
    # one, and the span cost as much as the model call (bench-serve).
    tracing={"excluded_urls": ["/predict", "/feedback"]},
)
class Greenlight:
    """POST /predict is greenlight's own route (serving/app.py), mounted on this service beside
    POST /feedback (serving/feedback.py); the worker loads and proves the bundle here, then hands
    the engine to the predict route."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        for counter in (LOG_FAILURES, LOG_DROPPED, CLIENT_ABORTS):
            counter.inc(0)  # listed in /metrics from the start, at 0
        engine = _engine_module()
        try:
            self.engine = engine.Engine.start(SETTINGS, on_loss=count_log_loss)
        except GreenlightError as error:
            ROUTE.fail(str(error))
            logger.error("NOT READY, refusing to serve model bundle %s: %s", SETTINGS.bundle, error)
        else:
            ROUTE.attach(self.engine, SETTINGS)
        if SETTINGS.gc_freeze:
            engine.freeze_startup_heap()

    def __is_ready__(self) -> bool:
        """Loaded and proven, and the prediction log keeping up (see PredictionLog.problem)."""
        return self.engine is not None and self.engine.log.problem is None

    @bentoml.on_shutdown
    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


Greenlight.add_asgi_middleware(
    RequestGuard,
    path="/predict",
    max_body_bytes=SETTINGS.max_body_bytes,
    on_abort=count_abort,
)
Greenlight.add_asgi_middleware(
    RequestGuard, path="/feedback", max_body_bytes=MAX_BODY_BYTES, on_abort=count_abort
)
