"""Prediction logs in format 1 without a running service, for the benchmark and the tests: records
from a data frame, predicted by the bundle in-process, written as the service would write them."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from greenlight.artifacts import Bundle
from greenlight.logformat import LOG_FORMAT


def log_lines(
    records: pd.DataFrame, bundle: Bundle, start: datetime, step: timedelta
) -> Iterator[str]:
    """One JSON line per record, timestamps `start`, `start + step`, ...; sensitive columns out."""
    features = [name for name in bundle.features if name not in bundle.spec.sensitive]
    probabilities = bundle.predict_proba(records)
    rows = records[features].astype(object).where(records[features].notna(), None)
    for index, (values, probability) in enumerate(
        zip(rows.to_dict(orient="records"), probabilities, strict=True)
    ):
        yield json.dumps(_record(bundle, start + index * step, values, float(probability)))


def _record(
    bundle: Bundle, moment: datetime, values: dict[str, Any], probability: float
) -> dict[str, Any]:
    target = bundle.spec.target
    label = target.positive if probability >= bundle.threshold else target.negative
    return {
        "log_format": LOG_FORMAT,
        "timestamp": moment.isoformat(),
        "request_id": secrets.token_hex(8),
        "model_version": bundle.version,
        "features": {name: _plain(value) for name, value in values.items()},
        "prediction": {"label": label, "probability": probability},
    }


def _plain(value: Any) -> Any:
    """numpy scalars -> Python numbers, so json.dumps accepts them."""
    return value.item() if hasattr(value, "item") else value


def write_log(
    path: Path, records: pd.DataFrame, bundle: Bundle, start: datetime, step: timedelta
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as stream:
        for line in log_lines(records, bundle, start, step):
            stream.write(line + "\n")
    return path
