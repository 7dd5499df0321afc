"""The prediction log's format (docs/prediction-log.md): one contract that the service writes,
and drift monitoring and the deploy shadow check read, without importing each other."""

LOG_FORMAT = 1  # bump on any change a reader must know about, and document it
FIELDS = ("log_format", "timestamp", "request_id", "model_version", "features", "prediction")

# The outcome log (docs/outcome-log.md): the true labels reported late for logged predictions.
OUTCOME_FORMAT = 1
OUTCOME_FIELDS = ("outcome_format", "imported_at", "request_id", "record", "label")
