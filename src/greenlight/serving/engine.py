"""Everything the service does per request, without BentoML: load and prove the bundle, predict,
queue the log lines. service.py only adapts it to HTTP."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from greenlight.artifacts import load_bundle
from greenlight.errors import ConfigError
from greenlight.logformat import logged_features
from greenlight.serving.imports import import_for_serving
from greenlight.serving.prediction_log import (
    Entry,
    LossHook,
    NoLog,
    PredictionLog,
    RotatingFile,
)
from greenlight.serving.predictor import Predictor, check_known_answers
from greenlight.serving.schema import Prediction, PredictResponse
from greenlight.serving.settings import ServingSettings

logger = logging.getLogger(__name__)
Row = dict[str, Any]


@dataclass(frozen=True)
class Engine:
    predictor: Predictor
    log: PredictionLog | NoLog

    @classmethod
    def start(cls, settings: ServingSettings, on_loss: LossHook | None = None) -> Engine:
        """Load the bundle (hash-checked), warm up on its known answers, open the log (whose
        every lost line is reported to `on_loss`). Raises a GreenlightError naming the file or
        the record that is wrong."""
        import_for_serving()  # before the bundle's loader imports skops (serving/imports.py)
        bundle = load_bundle(settings.bundle)
        predictor = Predictor.for_bundle(bundle)
        checked = check_known_answers(predictor, settings.known_answer_tolerance)
        log = _open_log(settings, logged_features(bundle.features, bundle.spec.sensitive), on_loss)
        path = "fast encoder" if predictor.encoder else "fitted preprocessor"
        logger.info(
            "model %s ready: %d known answers reproduced, %s", bundle.version, checked, path
        )
        return cls(predictor, log)

    @property
    def model_version(self) -> str:
        return self.predictor.bundle.version

    def predict(self, rows: Sequence[Row], request_id: str) -> PredictResponse:
        """Predictions in input order; the log gets them without blocking this call."""
        return self.predict_many([(rows, request_id)])[0]

    def predict_many(self, requests: Sequence[tuple[Sequence[Row], str]]) -> list[PredictResponse]:
        """Several requests' records in one model call; one response per request, in order."""
        rows = [row for request_rows, _ in requests for row in request_rows]
        probabilities = self.predictor.probabilities(rows).tolist()
        labels = self.predictor.labels(probabilities)
        responses, start = [], 0
        for request_rows, request_id in requests:
            end = start + len(request_rows)
            responses.append(
                self._respond(request_rows, request_id, labels[start:end], probabilities[start:end])
            )
            start = end
        return responses

    def _respond(
        self, rows: Sequence[Row], request_id: str, labels: list[str], probabilities: list[float]
    ) -> PredictResponse:
        self.log.record(
            Entry(time.time(), request_id, self.model_version, rows, labels, probabilities)
        )
        predictions = [
            Prediction.model_construct(label=label, probability=probability)
            for label, probability in zip(labels, probabilities, strict=True)
        ]
        return PredictResponse.model_construct(
            model_version=self.model_version, predictions=predictions
        )

    def close(self) -> None:
        self.log.close()
        log = self.log
        counts = (log.written, log.dropped, log.failures)
        logger.info("prediction log closed: %d lines written, %d dropped (%d failures)", *counts)


def _open_log(
    settings: ServingSettings, columns: Sequence[str], on_loss: LossHook | None
) -> PredictionLog | NoLog:
    if not settings.log_predictions:
        logger.info("prediction log off (serving.log_predictions: false)")
        return NoLog()
    try:
        file = RotatingFile(settings.prediction_log, settings.log_max_bytes, settings.log_keep)
    except OSError as error:
        raise ConfigError(f"prediction log {settings.prediction_log}: {error}") from error
    hooks = {"on_loss": on_loss} if on_loss is not None else {}
    return PredictionLog(
        file, columns, settings.log_flush_seconds, settings.log_queue_lines, **hooks
    )


def freeze_startup_heap() -> None:
    """Collect once, then freeze: the few hundred thousand objects of the loaded model and the
    libraries move to the permanent generation, so a full collection under load no longer walks
    them (those walks were the p99 tail: 148 to 285 ms each, issue 13)."""
    gc.collect()
    gc.freeze()
    logger.info("garbage collector: %d startup objects frozen", gc.get_freeze_count())
