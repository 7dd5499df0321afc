"""Production traffic for the rehearsal's monitoring legs, standing in for the deployment: test
records predicted by the model bundle, written as the service writes its prediction log, with
timestamps in the last hour. `--shifted`: the drift demo's shift (the same people twelve years
older, twelve more hours a week). `--borderline`: the outcomes demo's shift (only the records the
model is least sure of, whose true labels reveal a real accuracy drop). `--labels PATH`: also
write each logged record's true label, as a team's labels file for `greenlight outcomes import`
(request_id, record, label). Run with the checkout's own Python, after `dvc pull` of
models/bundle and artifacts/split:

    .venv/bin/python -m tools.rehearsal.traffic [--shifted | --borderline] [--labels PATH]
"""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from greenlight.artifacts import Bundle, load_bundle
from greenlight.files import read_parquet
from greenlight.logformat import LoggedPrediction
from greenlight.paths import BUNDLE, SPLIT
from tools.demos.drift import older_and_busier
from tools.demos.outcomes import borderline
from tools.harness.simulate import write_log

LOG_PATH = Path("logs/predictions.jsonl")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.rehearsal.traffic")
    shift = parser.add_mutually_exclusive_group()
    shift.add_argument("--shifted", action="store_true")
    shift.add_argument("--borderline", action="store_true")
    parser.add_argument("--labels", type=Path)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=11)
    return parser.parse_args()


def stream(args: argparse.Namespace, bundle: Bundle) -> tuple[str, pd.DataFrame]:
    """The records to log: a sample of the test split, shifted as asked."""
    test = read_parquet(SPLIT / "test.parquet")
    if args.borderline:
        test = borderline(test, pd.Series(bundle.predict_proba(test), index=test.index))
        return "borderline", test.sample(min(args.rows, len(test)), random_state=args.seed)
    records = test.sample(args.rows, random_state=args.seed)
    return ("shifted", older_and_busier(records)) if args.shifted else ("unshifted", records)


def write_labels(path: Path, log: Path, labels: list[str]) -> None:
    """The true label of each logged record, keyed as the log keys it (one record a request)."""
    lines = log.read_text(encoding="utf-8").splitlines()
    logged = [LoggedPrediction.parse(line, f"{log}:{n}") for n, line in enumerate(lines, 1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["request_id", "record", "label"])
        writer.writerows([p.request_id, 0, label] for p, label in zip(logged, labels, strict=True))


def main() -> None:
    args = arguments()
    bundle = load_bundle(BUNDLE)
    kind, records = stream(args, bundle)
    end = datetime.now(UTC) - timedelta(minutes=1)
    step = timedelta(hours=1) / len(records)
    path = write_log(LOG_PATH, records, bundle, end - timedelta(hours=1), step)
    if args.labels is not None:
        write_labels(args.labels, path, records[bundle.spec.target.column].tolist())
    print(f"{len(records)} {kind} records logged to {path}")


if __name__ == "__main__":
    main()
