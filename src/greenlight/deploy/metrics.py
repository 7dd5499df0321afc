"""Read a service's /predict counters from its Prometheus metrics (BentoML's `*request_total`
counter, labelled by endpoint and HTTP status)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from greenlight.deploy.targets.base import Traffic

ENDPOINT = "/predict"


def predict_counts(text: str) -> Traffic:
    """Requests to /predict and how many of them answered 5xx."""
    requests = errors = 0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:  # counters: the family drops `_total`, the samples keep it
            if (
                not sample.name.endswith("request_total")
                or sample.labels.get("endpoint") != ENDPOINT
            ):
                continue
            count = int(sample.value)
            requests += count
            errors += (
                count if str(sample.labels.get("http_response_code", "")).startswith("5") else 0
            )
    return Traffic(requests=requests, errors=errors)
