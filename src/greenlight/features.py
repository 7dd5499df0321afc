"""The one feature transformation, shared by training and serving: model frame, then a
ColumnTransformer fitted on the train split only."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from greenlight.spec import MISSING_CATEGORY, DatasetSpec


def to_model_frame(frame: pd.DataFrame, spec: DatasetSpec, features: list[str]) -> pd.DataFrame:
    """Select the feature columns; numbers become floats, a missing category its own level."""
    absent = [name for name in features if name not in frame.columns]
    if absent:
        raise KeyError(f"feature columns missing from the input: {absent}")
    numeric = spec.numeric(features)
    categorical = spec.categorical(features)
    out = frame[features].copy()
    out[numeric] = out[numeric].astype("float64")
    for name in categorical:
        column = out[name].astype(object)
        out[name] = column.where(column.notna(), MISSING_CATEGORY)
    return out


def build_preprocessor(spec: DatasetSpec, features: list[str]) -> ColumnTransformer:
    """Scale numbers; one-hot encode categories over the levels the spec allows (a fixed layout)."""
    categorical = spec.categorical(features)
    levels = [_levels(spec, name) for name in categorical]
    numeric_steps = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    encoder = OneHotEncoder(categories=levels, handle_unknown="error", sparse_output=False)
    return ColumnTransformer(
        [("numeric", numeric_steps, spec.numeric(features)), ("categorical", encoder, categorical)],
        sparse_threshold=0.0,
    )


def encoded_columns(preprocessor: ColumnTransformer) -> dict[str, list[int]]:
    """Which columns of the transformed matrix each input feature became: one per number, one per
    allowed level of a category (what an explanation sums back into one value per feature)."""
    columns: dict[str, list[int]] = {}
    for name, step, features in preprocessor.transformers_:
        block = preprocessor.output_indices_[name]
        if block.stop == block.start:
            continue  # a dropped remainder
        one_hot = isinstance(step, OneHotEncoder)
        widths = [len(levels) for levels in step.categories_] if one_hot else [1] * len(features)
        start = block.start
        for feature, width in zip(features, widths, strict=True):
            columns[str(feature)] = list(range(start, start + width))
            start += width
        if start != block.stop:
            raise ValueError(
                f"preprocessor block {name!r} has {block.stop - block.start} columns "
                f"but its features account for {start - block.start}"
            )
    return columns


def transform(preprocessor: ColumnTransformer, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(preprocessor.transform(frame), dtype=np.float32)


def _levels(spec: DatasetSpec, name: str) -> list[str]:
    column = spec.columns[name]
    return [*column.values, MISSING_CATEGORY] if column.nullable else list(column.values)


def target_vector(frame: pd.DataFrame, spec: DatasetSpec) -> np.ndarray:
    """1 for the positive label, 0 for the negative one."""
    return (frame[spec.target.column] == spec.target.positive).to_numpy(dtype=np.int64)
