"""The A/B leg's callers, played in the developer's clone while a split runs on the container
host: test records sent one request each through its HAProxy, then each record's true label
reported late to the variant that answered it (`POST /feedback`, pinned there by the
X-Greenlight-Variant header HAProxy's answer names), as a team's outcome feed would. Prints how
many requests each variant served and what /feedback answered. Run with the checkout's own
Python, after `dvc pull` of models/bundle and artifacts/split (`make drift-inputs`):

    .venv/bin/python -m tools.rehearsal.ab --port 8081 --rows 1500
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass

import httpx

from greenlight.files import read_parquet
from greenlight.manifest import read_manifest
from greenlight.paths import BUNDLE, SPLIT
from greenlight.spec import DatasetSpec
from tools.demos.drift import payloads

VARIANT = "X-Greenlight-Variant"
TIMEOUT_S = 30.0
LOGGED_WITHIN_S = 5.0  # the prediction log's flush interval, with room: a label's line is there


@dataclass(frozen=True)
class Served:
    request_id: str
    color: str
    label: str


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.rehearsal.ab")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=23)
    return parser.parse_args()


def requests(rows: int, seed: int) -> tuple[list[dict], list[str]]:
    """One-record request bodies from the test split, and each record's true label."""
    spec = DatasetSpec.model_validate(read_manifest(BUNDLE)["dataset"])
    records = read_parquet(SPLIT / "test.parquet").sample(rows, random_state=seed)
    bodies = [{"records": [one]} for body in payloads(records, spec) for one in body["records"]]
    return bodies, records[spec.target.column].astype(str).tolist()


def predict(client: httpx.Client, bodies: list[dict], labels: list[str]) -> list[Served]:
    served = []
    for body, label in zip(bodies, labels, strict=True):
        response = client.post("/predict", json=body)
        response.raise_for_status()
        headers = response.headers
        served.append(Served(headers["x-request-id"], headers[VARIANT], label))
    return served


def report(client: httpx.Client, served: list[Served]) -> Counter[int]:
    """One POST /feedback per prediction, to the variant that made it; statuses counted."""
    statuses: Counter[int] = Counter()
    for one in served:
        body = {"request_id": one.request_id, "record": 0, "label": one.label}
        response = client.post("/feedback", json=body, headers={VARIANT: one.color})
        statuses[response.status_code] += 1
    return statuses


def main() -> int:
    args = arguments()
    bodies, labels = requests(args.rows, args.seed)
    with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=TIMEOUT_S) as client:
        served = predict(client, bodies, labels)
        time.sleep(LOGGED_WITHIN_S)
        statuses = report(client, served)
    shares = Counter(one.color for one in served)
    print(f"{len(served)} requests served {dict(shares)}; POST /feedback answered {dict(statuses)}")
    return 0 if set(statuses) == {201} else 1  # 201: recorded


if __name__ == "__main__":
    raise SystemExit(main())
