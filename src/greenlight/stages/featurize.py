"""Stage 2: the standard split (train file -> train + valid, test file -> test) and the
preprocessor, fitted on the train split only. Sensitive columns stay in the split files for the
fairness stage but are not features unless `featurize.use_sensitive` is true."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import skops.io as sio
from sklearn.model_selection import train_test_split

from greenlight.config import Params
from greenlight.features import build_preprocessor, to_model_frame
from greenlight.files import read_parquet, write_parquet, write_with
from greenlight.paths import PREPROCESSOR, SPLIT, VALIDATED
from greenlight.spec import DatasetSpec


def split_train(
    frame: pd.DataFrame, spec: DatasetSpec, valid_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve a validation split out of the train file, stratified by the target, seeded."""
    train, valid = train_test_split(
        frame, test_size=valid_size, random_state=seed, stratify=frame[spec.target.column]
    )
    return train.reset_index(drop=True), valid.reset_index(drop=True)


def fit_preprocessor(train: pd.DataFrame, spec: DatasetSpec, features: list[str]) -> Any:
    preprocessor = build_preprocessor(spec, features)
    preprocessor.fit(to_model_frame(train, spec, features))
    return preprocessor


def run(
    params: Params,
    validated: Path = VALIDATED,
    split_dir: Path = SPLIT,
    preprocessor_path: Path = PREPROCESSOR,
) -> dict[str, int]:
    spec, settings = params.dataset, params.featurize
    train, valid = split_train(
        read_parquet(validated / "train.parquet"), spec, settings.valid_size, settings.seed
    )
    splits = {"train": train, "valid": valid, "test": read_parquet(validated / "test.parquet")}
    preprocessor = fit_preprocessor(train, spec, spec.feature_columns(settings.use_sensitive))
    for name, frame in splits.items():
        write_parquet(split_dir / f"{name}.parquet", frame)
    write_with(preprocessor_path, lambda path: sio.dump(preprocessor, path))
    return {name: len(frame) for name, frame in splits.items()}
