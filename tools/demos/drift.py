"""`make drift-demo`: the drift monitor end to end on this machine. For each of two streams of
Adult test records it starts the real service (`greenlight serve` on a free 127.0.0.1 port, with
its own prediction log), sends the records in batches (a fixed number of requests, each with a
timeout), stops the server by its PID, and runs `greenlight drift` on the log it wrote:

1. 2,000 test records as they are: expect no drift (exit 0);
2. 2,000 other test records, everyone 12 years older and working 12 more hours a week: expect
   drift (exit 3), naming age and hours_per_week.

The reports of each run are kept under reports/drift-demo/<stream>/."""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from greenlight.files import read_parquet
from greenlight.manifest import read_manifest
from greenlight.paths import BUNDLE, REPORTS, SPLIT
from greenlight.spec import DatasetSpec
from tools.harness.server import RunningServer

RECORDS, BATCH, REQUEST_TIMEOUT_S, SEND_DEADLINE_S = 2_000, 100, 30.0, 300.0
OUTPUT = REPORTS / "drift-demo"


def older_and_busier(records: pd.DataFrame) -> pd.DataFrame:
    """The shift: the same people twelve years older, working twelve more hours a week."""
    return records.assign(
        age=(records["age"] + 12).clip(upper=90),
        hours_per_week=(records["hours_per_week"] + 12).clip(upper=99),
    )


STREAMS: dict[str, tuple[str, int, Callable[[pd.DataFrame], pd.DataFrame]]] = {
    "unshifted": ("test records as they are", 1, lambda records: records),
    "shifted": ("test records 12 years older, 12 more hours a week", 2, older_and_busier),
}


def payloads(records: pd.DataFrame, spec: DatasetSpec) -> list[dict[str, Any]]:
    """Request bodies of BATCH records each: the input columns, missing values as null."""
    rows = records[spec.input_columns()].astype(object)
    plain = [{k: _json_value(v) for k, v in row.items()} for row in rows.to_dict(orient="records")]
    return [{"records": plain[start : start + BATCH]} for start in range(0, len(plain), BATCH)]


def _json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def send(server: RunningServer, bodies: list[dict[str, Any]]) -> int:
    """POST every body once (bounded: len(bodies) requests, SEND_DEADLINE_S); records answered."""
    deadline, answered = time.monotonic() + SEND_DEADLINE_S, 0
    with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client:
        for body in bodies:
            if time.monotonic() > deadline:
                raise TimeoutError(f"sending took over {SEND_DEADLINE_S:.0f} s")
            response = client.post("/predict", json=body)
            response.raise_for_status()
            answered += len(body["records"])
    return answered


def run_stream(name: str, records: pd.DataFrame, spec: DatasetSpec, scratch: Path) -> int:
    """Serve, send, stop, then `greenlight drift` on the log; the drift command's exit code."""
    log = scratch / name / "predictions.jsonl"
    with RunningServer.start(BUNDLE, log) as server:
        print(f"  service ready on {server.base_url} (pid {server.pid}), log {log}")
        answered = send(server, payloads(records, spec))
        print(f"  {answered:,} records predicted; stopping the service (pid {server.pid})")
    command = [sys.executable, "-m", "greenlight", "drift", "--log", str(log)]
    command += ["--reports", str(OUTPUT / name)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    print("  " + (completed.stdout + completed.stderr).strip().replace("\n", "\n  "))
    return completed.returncode


def main() -> int:
    spec = DatasetSpec.model_validate(read_manifest(BUNDLE)["dataset"])
    test = read_parquet(SPLIT / "test.parquet")
    codes = {}
    with tempfile.TemporaryDirectory(prefix="greenlight-drift-demo-") as scratch:
        for name, (description, seed, transform) in STREAMS.items():
            print(f"stream '{name}': {RECORDS:,} {description}")
            records = transform(test.sample(RECORDS, random_state=seed))
            codes[name] = run_stream(name, records, spec, Path(scratch))
    expected = {"unshifted": 0, "shifted": 3}
    print(f"exit codes {codes} (expected {expected}); reports under {OUTPUT}/")
    return 0 if codes == expected else 1


if __name__ == "__main__":
    sys.exit(main())
