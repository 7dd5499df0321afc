"""Drift monitoring: read the service's prediction log, compare a window of production traffic
with the deployed model's training data (Evidently), report, and keep one GitHub issue up to date.

The monitor reads the prediction log format (versioned, see `log_reader`), never the service."""

EXIT_DRIFT = (
    3  # `greenlight drift`: 0 no drift, 3 drift, 2 bad input (missing log, empty window, ...)
)
EXIT_DEGRADED = 3  # `greenlight monitor performance`: 0 fine or not enough outcomes, 3 degraded
