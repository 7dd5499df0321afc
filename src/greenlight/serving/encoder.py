"""A fast path through the fitted preprocessor for small batches.

scikit-learn's ColumnTransformer costs milliseconds per call whatever the batch size (pandas
column selection, input validation), which dominates a one-record prediction. RowEncoder reads
the fitted statistics (imputer fill values, scaler mean and scale, one-hot categories) once and
applies the same arithmetic with numpy. It is only built for the layout features.py produces,
and only used after `matches_preprocessor` proved it gives the preprocessor's output on probe
records; anything else falls back to the preprocessor itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from greenlight.features import to_model_frame, transform
from greenlight.spec import MISSING_CATEGORY, DatasetSpec

Row = dict[str, Any]


@dataclass(frozen=True)
class NumericBlock:
    """Median imputation then standard scaling, as SimpleImputer + StandardScaler compute it."""

    columns: tuple[str, ...]
    fill: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    @property
    def width(self) -> int:
        return len(self.columns)

    def encode(self, rows: Sequence[Row], out: np.ndarray) -> None:
        values = np.array([[row[name] for name in self.columns] for row in rows], dtype=np.float64)
        values = np.where(np.isnan(values), self.fill, values)
        values -= self.mean
        values /= self.scale
        out[:] = values


@dataclass(frozen=True)
class OneHotBlock:
    """One indicator per allowed level; a missing value is the MISSING_CATEGORY level."""

    columns: tuple[str, ...]
    offsets: tuple[dict[Any, int], ...]  # per column: level -> output column within the block
    width: int

    def encode(self, rows: Sequence[Row], out: np.ndarray) -> None:
        out[:] = 0.0
        for index, row in enumerate(rows):
            for name, offsets in zip(self.columns, self.offsets, strict=True):
                value = row[name]
                out[index, offsets[MISSING_CATEGORY if value is None else value]] = 1.0


Block = NumericBlock | OneHotBlock


@dataclass(frozen=True)
class RowEncoder:
    blocks: tuple[Block, ...]

    @property
    def width(self) -> int:
        return sum(block.width for block in self.blocks)

    def encode(self, rows: Sequence[Row]) -> np.ndarray:
        """The model input for validated records, as float32 like `features.transform`."""
        out = np.empty((len(rows), self.width), dtype=np.float64)
        start = 0
        for block in self.blocks:
            block.encode(rows, out[:, start : start + block.width])
            start += block.width
        return out.astype(np.float32)


def compile_encoder(preprocessor: Any) -> RowEncoder | None:
    """A RowEncoder for a fitted ColumnTransformer of known parts, or None for any other layout."""
    if not isinstance(preprocessor, ColumnTransformer) or preprocessor.remainder != "drop":
        return None
    blocks = []
    for _name, part, columns in preprocessor.transformers_:
        if part == "drop" or len(columns) == 0:
            continue
        block = _numeric_block(part, columns) or _one_hot_block(part, columns)
        if block is None:
            return None
        blocks.append(block)
    return RowEncoder(tuple(blocks))


def _numeric_block(part: Any, columns: Sequence[str]) -> NumericBlock | None:
    steps = [step for _, step in part.steps] if isinstance(part, Pipeline) else [part]
    if len(steps) != 2 or not isinstance(steps[0], SimpleImputer):
        return None
    imputer, scaler = steps
    if not isinstance(scaler, StandardScaler) or imputer.add_indicator:
        return None
    width = len(columns)
    mean = scaler.mean_ if scaler.with_mean else np.zeros(width)
    scale = scaler.scale_ if scaler.with_std else np.ones(width)
    fill = np.asarray(imputer.statistics_, dtype=np.float64)
    return NumericBlock(tuple(columns), fill, np.asarray(mean), np.asarray(scale))


def _one_hot_block(part: Any, columns: Sequence[str]) -> OneHotBlock | None:
    if not isinstance(part, OneHotEncoder) or part.drop is not None:
        return None
    if getattr(part, "_infrequent_enabled", False):
        return None
    offsets, start = [], 0
    for levels in part.categories_:
        offsets.append({level: start + position for position, level in enumerate(levels)})
        start += len(levels)
    return OneHotBlock(tuple(columns), tuple(offsets), start)


def matches_preprocessor(
    encoder: RowEncoder, preprocessor: Any, spec: DatasetSpec, features: list[str]
) -> bool:
    """True when the encoder gives the preprocessor's output on probe records covering every
    allowed level, missing values and the range ends of every feature."""
    rows = probe_rows(spec, features)
    expected = transform(preprocessor, to_model_frame(pd.DataFrame(rows), spec, features))
    actual = encoder.encode(rows)
    return actual.shape == expected.shape and bool(np.allclose(actual, expected, rtol=0, atol=1e-6))


def probe_rows(spec: DatasetSpec, features: list[str]) -> list[Row]:
    """Records cycling through each feature's probe values, until every value has appeared."""
    values = {name: _probe_values(spec, name) for name in features}
    count = max(len(options) for options in values.values())
    return [
        {name: options[index % len(options)] for name, options in values.items()}
        for index in range(count)
    ]


def _probe_values(spec: DatasetSpec, name: str) -> list[Any]:
    column = spec.columns[name]
    missing = [None] if column.nullable else []
    if column.type == "category":
        return [*column.values, *missing]
    low = column.min if column.min is not None else -1.0
    high = column.max if column.max is not None else 1.0
    numbers = [low, high, (low + high) / 2]
    if column.type == "int":
        numbers = [round(number) for number in numbers]
    return [*numbers, *missing]
