"""Production traffic for the rehearsal's drift leg, standing in for the deployment (which waits
for issue 11): the test split predicted by the model bundle, written as the service writes its
prediction log, with timestamps in the last hour. `--shifted`: the demo's shift (the same people
twelve years older, twelve more hours a week). Run with the checkout's own Python, after
`dvc pull` of models/bundle and artifacts/split:

    .venv/bin/python -m tools.rehearsal.traffic [--shifted] [--rows N]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from greenlight.artifacts import load_bundle
from greenlight.files import read_parquet
from greenlight.paths import BUNDLE, SPLIT
from tools.demos.drift import older_and_busier
from tools.harness.simulate import write_log

LOG_PATH = Path("logs/predictions.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.rehearsal.traffic")
    parser.add_argument("--shifted", action="store_true")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    records = read_parquet(SPLIT / "test.parquet").sample(args.rows, random_state=args.seed)
    if args.shifted:
        records = older_and_busier(records)
    end = datetime.now(UTC) - timedelta(minutes=1)
    step = timedelta(hours=1) / args.rows
    path = write_log(LOG_PATH, records, load_bundle(BUNDLE), end - timedelta(hours=1), step)
    print(f"{args.rows} {'shifted' if args.shifted else 'unshifted'} records logged to {path}")


if __name__ == "__main__":
    main()
