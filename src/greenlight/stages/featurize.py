"""Stage 2: the standard split (train file -> train + valid, test file -> test; or one file ->
train + valid + test, with `featurize.test_size` held out) and the preprocessor, fitted on the
train split only. Every split is stratified by the target and seeded. Sensitive columns stay in
the split files for the fairness stage but are not features unless `featurize.use_sensitive`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from greenlight.config import FeaturizeParams, Params
from greenlight.features import build_preprocessor, to_model_frame
from greenlight.files import atomic_directory, read_parquet, write_parquet
from greenlight.paths import PREPROCESSOR, SPLIT, VALIDATED
from greenlight.skops_file import dump_skops
from greenlight.spec import DatasetSpec


def split_off(
    frame: pd.DataFrame, spec: DatasetSpec, share: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out `share` of `frame`, stratified by the target, seeded: (kept, held out)."""
    kept, held_out = train_test_split(
        frame, test_size=share, random_state=seed, stratify=frame[spec.target.column]
    )
    return kept.reset_index(drop=True), held_out.reset_index(drop=True)


def splits(
    validated: Path, spec: DatasetSpec, settings: FeaturizeParams
) -> dict[str, pd.DataFrame]:
    """train, valid and test, from the two validated files or from the one."""
    if spec.single_file:
        rest, test = split_off(
            read_parquet(validated / "all.parquet"), spec, settings.test_size, settings.seed
        )
    else:
        rest, test = (
            read_parquet(validated / "train.parquet"),
            read_parquet(validated / "test.parquet"),
        )
    train, valid = split_off(rest, spec, settings.valid_size, settings.seed)
    return {"train": train, "valid": valid, "test": test}


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
    frames = splits(validated, spec, settings)
    features = spec.feature_columns(settings.use_sensitive)
    preprocessor = fit_preprocessor(frames["train"], spec, features)
    with atomic_directory(split_dir) as staging:
        for name, frame in frames.items():
            write_parquet(staging / f"{name}.parquet", frame)
    dump_skops(preprocessor, preprocessor_path)
    return {name: len(frame) for name, frame in frames.items()}


def main(params: Params) -> dict[str, int]:
    return run(params)
