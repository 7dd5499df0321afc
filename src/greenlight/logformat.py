"""The prediction log's format (docs/prediction-log.md): one contract that the service writes,
and drift monitoring and the deploy shadow check read, without importing each other. Both logs
are JSON Lines: one JSON object a line (`json_object`)."""

from __future__ import annotations

import json
from typing import Any

from greenlight.errors import GreenlightError

LOG_FORMAT = 1  # bump on any change a reader must know about, and document it
FIELDS = ("log_format", "timestamp", "request_id", "model_version", "features", "prediction")

# The outcome log (docs/outcome-log.md): the true labels reported late for logged predictions.
OUTCOME_FORMAT = 1
OUTCOME_FIELDS = ("outcome_format", "imported_at", "request_id", "record", "label")


def json_object(text: str, where: str, error: type[GreenlightError]) -> dict[str, Any]:
    """One line as a JSON object; `error` (the reader's own) naming `where` when it is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as problem:
        raise error(f"{where}: not valid JSON ({problem.msg})") from problem
    if not isinstance(value, dict):
        raise error(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value
