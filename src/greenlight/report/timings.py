"""The comment's timings. None of them is committed: a time differs from one run to the next, and
every committed report is a DVC output that must be the same bytes on every run. So the report
times the base's model and this branch's itself, one after the other on this runner (a peer in
the same run: their ratio is what is compared), and reads what the stages measured where they ran
here: the training time (reports/provenance.json) and the explained / unexplained ratio
(reports/latency.json), each only when it is about the model in the workspace."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from greenlight.artifacts import Bundle, load_bundle
from greenlight.errors import MissingInputError
from greenlight.features import to_model_frame, transform
from greenlight.files import read_json, read_parquet
from greenlight.paths import LATENCY, PROVENANCE, SPLIT
from greenlight.report.inputs import Timings
from greenlight.timing import fastest_ms


def predict_one_ms(bundle: Bundle, records: pd.DataFrame) -> float:
    """The fastest of many one-record calls through the estimator, the first record encoded once
    beforehand (the preprocessing is the same code whatever the model)."""
    frame = to_model_frame(records.head(1), bundle.spec, bundle.features)
    row = transform(bundle.preprocessor, frame)
    return fastest_ms(lambda: bundle.estimator.predict_proba(row))


def branch_predict_ms(bundle: Path, split: Path = SPLIT) -> float | None:
    """This branch's model on its own test split's first record; None without a test split."""
    try:
        records = read_parquet(split / "test.parquet")
    except MissingInputError:
        return None
    return predict_one_ms(load_bundle(bundle), records)


def runner_timings(
    predict_ms: tuple[float | None, float | None], reports: Path, model_version: str
) -> Timings:
    """`predict_ms` (base, branch) timed by the report; the rest from the stages' records."""
    training = _record_for(reports / PROVENANCE.name, model_version).get("training", {})
    latency = _record_for(reports / LATENCY.name, model_version).get("latency_ms", {})
    return Timings(
        predict_ms=predict_ms,
        training_seconds=training.get("seconds"),
        explain_ratio=latency.get("ratio"),
    )


def _record_for(path: Path, model_version: str) -> Mapping[str, Any]:
    """A stage's record of this run, or {} when there is none or it is about another model (the
    stage was restored from the DVC cache, not run here)."""
    record = read_json(path) if path.is_file() else {}
    return record if record.get("model_version") == model_version else {}
