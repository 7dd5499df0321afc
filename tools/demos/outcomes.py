"""`make outcomes-demo`: delayed labels end to end on this machine. For each of two streams of
Adult test records it starts the real service (`greenlight serve` on a free 127.0.0.1 port, with
its own prediction log and the outcome log beside it), sends the records (a fixed number of
requests, each with a timeout), then reports every record's true label late, one `POST /feedback`
each, stops the server by its PID and runs `greenlight monitor performance` on the two logs:

1. test records as they are: expect no degradation (exit 0);
2. a shifted stream, `borderline`: the records the model is least sure of (probability between
   0.25 and 0.75), as when a new market brings mostly borderline applicants; their true labels
   reveal a real accuracy drop: expect a degradation (exit 3), and print the text of the
   `performance` issue the scheduled workflow would open.

Reports under reports/outcomes-demo/<stream>/."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd

from greenlight.artifacts import load_bundle
from greenlight.files import read_parquet
from greenlight.manifest import read_manifest
from greenlight.monitor.issue import PERFORMANCE, issue_body
from greenlight.paths import BUNDLE, REPORTS, SPLIT
from greenlight.spec import DatasetSpec
from tools.demos.drift import payloads
from tools.harness.server import RunningServer, unwind_on_termination

RECORDS, REQUEST_TIMEOUT_S, DEADLINE_S = 600, 30.0, 300.0  # 600 >= monitor.performance.min_outcomes
OUTPUT = REPORTS / "outcomes-demo"
Key = tuple[str, int]


def borderline(records: pd.DataFrame, probabilities: pd.Series) -> pd.DataFrame:
    """The shift: only the records the model is least sure of."""
    return records[(probabilities > 0.25) & (probabilities < 0.75)]


def send(client: httpx.Client, bodies: list[dict], deadline: float) -> list[Key]:
    """POST every body once; the (request_id, record) of each record, in the order sent."""
    keys: list[Key] = []
    for body in bodies:
        _check_deadline(deadline, "sending")
        response = client.post("/predict", json=body)
        response.raise_for_status()
        request_id = response.headers["x-request-id"]
        keys += [(request_id, record) for record in range(len(body["records"]))]
    return keys


def wait_logged(log: Path, lines: int, deadline: float) -> None:
    """Until the prediction log holds `lines` lines (labels for unlogged predictions are 404s)."""
    while not log.exists() or log.read_bytes().count(b"\n") < lines:
        _check_deadline(deadline, "waiting for the prediction log")
        time.sleep(0.2)


def report_labels(
    client: httpx.Client, keys: list[Key], labels: list[str], deadline: float
) -> Counter:
    """One POST /feedback per record; the count of each answer's status."""
    statuses: Counter[int] = Counter()
    for (request_id, record), label in zip(keys, labels, strict=True):
        _check_deadline(deadline, "reporting labels")
        body = {"request_id": request_id, "record": record, "label": label}
        statuses[client.post("/feedback", json=body).status_code] += 1
    return statuses


def _check_deadline(deadline: float, doing: str) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"{doing}: over {DEADLINE_S:.0f} s")


def run_stream(name: str, records: pd.DataFrame, spec: DatasetSpec, scratch: Path) -> int:
    """Serve, predict, report the labels late, stop; `monitor performance`'s exit code."""
    log, deadline = scratch / name / "predictions.jsonl", time.monotonic() + DEADLINE_S
    labels = records[spec.target.column].tolist()
    with RunningServer.start(BUNDLE, log) as server:
        print(f"  service ready on {server.base_url} (pid {server.pid})")
        with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client:
            keys = send(client, payloads(records, spec), deadline)
            wait_logged(log, len(keys), deadline)
            statuses = report_labels(client, keys, labels, deadline)
        print(
            f"  {len(keys):,} records predicted, {len(labels):,} labels reported late: "
            f"POST /feedback answered {dict(statuses)}; stopping pid {server.pid}"
        )
    return measure(name, log)


def measure(name: str, log: Path) -> int:
    command = [sys.executable, "-m", "greenlight", "monitor", "performance", "--log", str(log)]
    command += [
        "--outcome-log",
        str(log.with_name("outcomes.jsonl")),
        "--reports",
        str(OUTPUT / name),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    print("  " + (completed.stdout + completed.stderr).strip().replace("\n", "\n  "))
    return completed.returncode


def streams(test: pd.DataFrame) -> dict[str, tuple[str, pd.DataFrame]]:
    probabilities = pd.Series(load_bundle(BUNDLE).predict_proba(test), index=test.index)
    shifted = borderline(test, probabilities)
    return {
        "unshifted": ("test records as they are", test.sample(RECORDS, random_state=1)),
        "borderline": (
            "the test records the model is least sure of",
            shifted.sample(RECORDS, random_state=2),
        ),
    }


def show_issue() -> None:
    summary = (OUTPUT / "borderline" / "performance-issue.md").read_text(encoding="utf-8")
    print(f"\nthe issue `make performance-issue` would open (label {PERFORMANCE.label}):\n")
    print(f"# {PERFORMANCE.title}\n\n{issue_body(summary, '<the run URL>', PERFORMANCE)}")


def main() -> int:
    unwind_on_termination()  # SIGTERM, SIGINT, SIGHUP unwind the `with` that stops the service
    spec = DatasetSpec.model_validate(read_manifest(BUNDLE)["dataset"])
    codes = {}
    with tempfile.TemporaryDirectory(prefix="greenlight-outcomes-demo-") as scratch:
        for name, (description, records) in streams(read_parquet(SPLIT / "test.parquet")).items():
            print(f"stream '{name}': {len(records):,} {description}")
            codes[name] = run_stream(name, records, spec, Path(scratch))
    expected = {"unshifted": 0, "borderline": 3}
    if codes["borderline"] == 3:
        show_issue()
    print(f"exit codes {codes} (expected {expected}); reports under {OUTPUT}/")
    return 0 if codes == expected else 1


if __name__ == "__main__":
    sys.exit(main())
