"""Fixtures for the drift monitor tests: the session's sample bundle and splits (from
`pipeline_run`), and prediction logs written in format 1 as the service writes them. Test modules
import the `*_fixture` functions: a conftest.py here would shadow the root one for the modules
that do `from conftest import ...`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from greenlight.artifacts import Bundle, load_bundle
from greenlight.monitor.job import DriftJob
from greenlight.monitor.settings import DriftParams, Window
from tools.harness.simulate import write_log

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    """The sample pipeline's bundle, reference (train split) and test records."""

    bundle_dir: Path
    bundle: Bundle
    reference: Path
    test: pd.DataFrame


@pytest.fixture(name="sample", scope="session")
def sample_fixture(pipeline_run) -> Sample:
    return Sample(
        bundle_dir=pipeline_run.bundle,
        bundle=load_bundle(pipeline_run.bundle),
        reference=pipeline_run.split / "train.parquet",
        test=pd.read_parquet(pipeline_run.split / "test.parquet"),
    )


LogWriter = Callable[..., Path]


@pytest.fixture(name="log_of")
def log_of_fixture(sample: Sample, tmp_path: Path) -> LogWriter:
    """Write `records` as a prediction log under tmp_path; one record a minute up to NOW."""

    def write(records: pd.DataFrame, name: str = "logs") -> Path:
        start = NOW - timedelta(minutes=len(records))
        path = tmp_path / name / "predictions.jsonl"
        return write_log(path, records, sample.bundle, start, timedelta(minutes=1))

    return write


@pytest.fixture(name="job_for")
def job_for_fixture(sample: Sample, tmp_path: Path) -> Callable[..., DriftJob]:
    """A drift job on the sample model, reports under tmp_path; window: 1 day before NOW."""

    def make(log: Path, reports: str = "reports", **settings: object) -> DriftJob:
        params = DriftParams(**{"window": Window(days=1), **settings})
        return DriftJob(params, log, sample.bundle_dir, sample.reference, tmp_path / reports, NOW)

    return make
