"""Shared fixtures: the real params with a small Adult sample, and one pipeline run on it (per test
session) whose bundle and reports the serving, deploy and drift tests reuse."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from greenlight.config import Params, load_params

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "adult_sample"


@contextmanager
def working_directory(path: Path) -> Iterator[Path]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(previous)


def sample_params(data_dir: Path = SAMPLE, **train_overrides: object) -> Params:
    """The repository's params.yaml, pointed at the sample files, with a quicker model."""
    params = load_params(ROOT / "params.yaml")
    files = {
        split: file.model_copy(update={"path": str(data_dir / Path(file.path).name)})
        for split, file in params.dataset.files.items()
    }
    dataset = params.dataset.model_copy(update={"files": files})
    hgb = params.train.hgb.model_copy(update={"max_iter": 60})
    train = params.train.model_copy(update={"hgb": hgb, "known_answers": 5, **train_overrides})
    importance = params.evaluate.importance.model_copy(update={"n_repeats": 2, "sample": 300})
    evaluate = params.evaluate.model_copy(update={"importance": importance})
    return params.model_copy(update={"dataset": dataset, "train": train, "evaluate": evaluate})


@pytest.fixture
def params() -> Params:
    return sample_params()


@dataclass(frozen=True)
class PipelineRun:
    workdir: Path
    params: Params

    @property
    def bundle(self) -> Path:
        return self.workdir / "models" / "bundle"

    @property
    def reports(self) -> Path:
        return self.workdir / "reports"

    @property
    def split(self) -> Path:
        return self.workdir / "artifacts" / "split"


def run_pipeline(workdir: Path, params: Params) -> PipelineRun:
    """Every stage in dvc.yaml order, with the default (relative) paths, inside `workdir`."""
    from greenlight.stages import card, evaluate, explain, fairness, featurize, train, validate

    with working_directory(workdir):
        validate.run(params.dataset)
        featurize.run(params)
        train.run(params)
        evaluate.run(params)
        fairness.run(params)
        explain.run(params)
        card.run(params)
    return PipelineRun(workdir=workdir, params=params)


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """One pipeline run on the sample, shared by the whole session. Treat it as read-only: copy
    the bundle (see `bundle_copy`) before changing anything."""
    return run_pipeline(tmp_path_factory.mktemp("pipeline"), sample_params())


@pytest.fixture
def bundle_copy(pipeline_run: PipelineRun, tmp_path: Path) -> Path:
    """A private copy of the sample bundle, safe to tamper with."""
    return Path(shutil.copytree(pipeline_run.bundle, tmp_path / "bundle"))
