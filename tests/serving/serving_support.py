"""Helpers shared by the serving tests: records from the sample pipeline run, a small hand-made
spec that has every kind of column, and a running service on the sample bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from greenlight.spec import DatasetSpec


def input_records(split_dir: Path, count: int, target: str = "income") -> list[dict[str, Any]]:
    """Real records (missing values as None) from the sample run's test split, target dropped."""
    frame = pd.read_parquet(split_dir / "test.parquet").drop(columns=[target]).head(count)
    return [
        {key: (None if pd.isna(value) else value) for key, value in row.items()}
        for row in frame.to_dict("records")
    ]


def tiny_spec(**changes: Any) -> DatasetSpec:
    """int, float, category, nullable, a sensitive column and names Python cannot use as is."""
    columns = {
        "age": {"type": "int", "min": 0, "max": 120},
        "score": {"type": "float", "min": -1.0, "max": 1.0, "nullable": True},
        "colour": {"type": "category", "values": ["red", "green"]},
        "hours-per-week": {"type": "int", "min": 1, "max": 99, "nullable": True},
        "class": {"type": "category", "values": ["a", "b"]},
        "model_config": {"type": "int"},
        "sex": {"type": "category", "values": ["F", "M"]},
        "label": {"type": "category", "values": ["yes", "no"]},
    }
    raw = {
        "name": "tiny",
        "files": {"train": {"path": "train.csv"}, "test": {"path": "test.csv"}},
        "target": {"column": "label", "positive": "yes", "negative": "no"},
        "sensitive": ["sex"],
        "columns": columns,
    }
    return DatasetSpec.model_validate({**raw, **changes})


def tiny_record(**changes: Any) -> dict[str, Any]:
    record = {
        "age": 40,
        "score": 0.5,
        "colour": "red",
        "hours-per-week": 40,
        "class": "a",
        "model_config": 7,
        "sex": "F",
    }
    return {**record, **changes}
