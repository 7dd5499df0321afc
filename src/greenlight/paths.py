"""Where each stage reads and writes, relative to the repository root (the DVC convention)."""

from pathlib import Path

ARTIFACTS = Path("artifacts")
VALIDATED = ARTIFACTS / "validated"  # typed, checked copies of the raw files
SPLIT = ARTIFACTS / "split"  # train / valid / test
PREPROCESSOR = ARTIFACTS / "preprocessor.skops"
PREDICTIONS = ARTIFACTS / "predictions" / "test.parquet"
BUNDLE = Path("models/bundle")
REPORTS = Path("reports")
PROVENANCE = REPORTS / "provenance.json"  # the training run's record: not a DVC output
LATENCY = REPORTS / "latency.json"  # one record predicted and explained, timed: not a DVC output
