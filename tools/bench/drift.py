"""`make bench-drift`: time `greenlight drift` end to end (a fresh process: Python start, Evidently
import, log parsing, bundle check, predictions on the reference, the tests, the three reports) on
a 50,000-line prediction log (12 features + predicted label + probability = 14 logged values per
record) against a 30,000-row reference. Target: under 60 s on 2 cores. Writes
reports/drift_bench.json."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from greenlight.artifacts import load_bundle
from greenlight.errors import ExitCode
from greenlight.files import read_parquet, write_json
from greenlight.paths import BUNDLE, REPORTS, SPLIT
from tools.harness.simulate import write_log

OUTPUT = REPORTS / "drift_bench.json"
LOG_ROWS, REFERENCE_ROWS, REPEATS, TARGET_SECONDS = 50_000, 30_000, 3, 60.0
END = datetime(2025, 1, 8, tzinfo=UTC)


def build_inputs(scratch: Path, seed: int = 7) -> tuple[Path, Path]:
    """A 50,000-line log (test records, resampled) and a 30,000-row reference (train, resampled)."""
    bundle = load_bundle(BUNDLE)
    test = read_parquet(SPLIT / "test.parquet").sample(LOG_ROWS, replace=True, random_state=seed)
    step = timedelta(days=6) / LOG_ROWS  # the whole log inside the default 7-day window
    log = write_log(
        scratch / "logs" / "predictions.jsonl", test, bundle, END - timedelta(days=6), step
    )
    train = read_parquet(SPLIT / "train.parquet")
    reference = train.sample(REFERENCE_ROWS, replace=True, random_state=seed)
    reference.to_parquet(scratch / "reference.parquet", index=False)
    return log, scratch / "reference.parquet"


def time_drift(log: Path, reference: Path, reports: Path) -> float:
    """Seconds for one `greenlight drift` process; exit 0 (no drift) or 3 (drift) both count."""
    command = [sys.executable, "-m", "greenlight", "drift", "--log", str(log)]
    command += [
        "--reference",
        str(reference),
        "--reports",
        str(reports),
        "--until",
        END.isoformat(),
    ]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode not in (ExitCode.OK, ExitCode.DRIFT):
        raise RuntimeError(f"greenlight drift failed ({completed.returncode}): {completed.stderr}")
    return seconds


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-drift-") as scratch:
        log, reference = build_inputs(Path(scratch))
        runs = [time_drift(log, reference, Path(scratch) / "reports") for _ in range(REPEATS)]
        html = (Path(scratch) / "reports" / "drift.html").stat().st_size
    result = {
        "log_rows": LOG_ROWS,
        "logged_values_per_row": 14,
        "reference_rows": REFERENCE_ROWS,
        "seconds": [round(value, 2) for value in runs],
        "median_seconds": round(statistics.median(runs), 2),
        "target_seconds": TARGET_SECONDS,
        "passed": max(runs) < TARGET_SECONDS,
        "html_report_bytes": html,
    }
    return result | _machine()


def _machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    result = run()
    write_json(OUTPUT, result)
    verdict = "passed" if result["passed"] else "FAILED"
    print(
        f"greenlight drift, {LOG_ROWS:,} logged rows vs {REFERENCE_ROWS:,} reference rows: "
        f"median {result['median_seconds']} s over {REPEATS} runs "
        f"(target < {TARGET_SECONDS:.0f} s: {verdict}); written to {OUTPUT}"
    )


if __name__ == "__main__":
    main()
