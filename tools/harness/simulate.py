"""Prediction logs (`LoggedPrediction`) without a running service, for the benchmark and the
tests: records from a data frame, predicted in-process by the bundle, logged as the service does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from greenlight.artifacts import Bundle
from greenlight.logformat import LoggedPrediction, logged_features, stamp


def log_lines(
    records: pd.DataFrame, bundle: Bundle, start: datetime, step: timedelta
) -> Iterator[str]:
    """One log line per record (newline included), timestamps `start`, `start + step`, ..."""
    features = logged_features(bundle.features, bundle.spec.sensitive)
    probabilities = bundle.predict_proba(records)
    rows = records[list(features)].astype(object).where(records[list(features)].notna(), None)
    for index, (values, probability) in enumerate(
        zip(rows.to_dict(orient="records"), probabilities, strict=True)
    ):
        yield _logged(bundle, start + index * step, values, float(probability)).line()


def _logged(
    bundle: Bundle, moment: datetime, values: dict[str, Any], probability: float
) -> LoggedPrediction:
    """As the service logs it: one request per record, a 32-hex id, the model's own label."""
    target = bundle.spec.target
    label = target.positive if probability >= bundle.threshold else target.negative
    features = {name: _plain(value) for name, value in values.items()}
    return LoggedPrediction(
        stamp(moment), uuid.uuid4().hex, bundle.version, features, label, probability
    )


def _plain(value: Any) -> Any:
    """numpy scalars -> Python numbers, so json.dumps accepts them."""
    return value.item() if hasattr(value, "item") else value


def write_log(
    path: Path, records: pd.DataFrame, bundle: Bundle, start: datetime, step: timedelta
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as stream:
        for line in log_lines(records, bundle, start, step):
            stream.write(line)
    return path
