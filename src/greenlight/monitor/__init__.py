"""Drift monitoring: read the service's prediction log, compare a window of production traffic
with the deployed model's training data (Evidently), report, and keep one GitHub issue up to date.

The monitor reads the prediction log format (versioned, see `log_reader`), never the service."""
