"""The dataset contract: consistency checks and the columns it derives."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from greenlight.config import Params
from greenlight.spec import DatasetSpec, pandera_schema


def spec_dict(**changes: object) -> dict:
    base = {
        "name": "toy",
        "files": {"train": {"path": "a.csv"}, "test": {"path": "b.csv"}},
        "target": {"column": "y", "positive": "yes", "negative": "no"},
        "sensitive": ["group"],
        "columns": {
            "age": {"type": "int", "min": 0, "max": 120},
            "group": {"type": "category", "values": ["a", "b"]},
            "colour": {"type": "category", "values": ["red", "blue"], "nullable": True},
            "y": {"type": "category", "values": ["no", "yes"]},
        },
    }
    return base | changes


def test_feature_columns_leave_out_target_and_sensitive_by_default() -> None:
    spec = DatasetSpec.model_validate(spec_dict())
    assert spec.feature_columns(use_sensitive=False) == ["age", "colour"]
    assert spec.feature_columns(use_sensitive=True) == ["age", "group", "colour"]
    assert spec.input_columns() == ["age", "group", "colour"]
    assert spec.numeric(["age", "colour"]) == ["age"]
    assert spec.categorical(["age", "colour"]) == ["colour"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sensitive": ["nope"]}, "sensitive columns ['nope'] are not in columns"),
        ({"target": {"column": "z", "positive": "yes", "negative": "no"}}, "target column 'z'"),
        ({"target": {"column": "y", "positive": "1", "negative": "0"}}, "target column must be"),
        ({"files": {"train": {"path": "a.csv"}}}, "files has ['train']: give either `train`"),
        ({"files": {"all": {"path": "a"}, "test": {"path": "b"}}}, "files has ['all', 'test']"),
    ],
)
def test_inconsistent_spec_is_rejected_with_the_reason(change: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        DatasetSpec.model_validate(spec_dict(**change))


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"type": "category"}, "needs a non-empty `values`"),
        ({"type": "int", "values": ["x"]}, "only applies to category"),
        ({"type": "int", "min": 5, "max": 1}, "min 5.0 is greater than max 1.0"),
        ({"type": "text"}, "Input should be 'int', 'float' or 'category'"),
    ],
)
def test_bad_column_is_rejected_with_the_reason(column: dict, message: str) -> None:
    columns = spec_dict()["columns"] | {"age": column}
    with pytest.raises(ValidationError, match=message):
        DatasetSpec.model_validate(spec_dict(columns=columns))


def test_repository_spec_builds_a_pandera_schema_with_every_column(params: Params) -> None:
    schema = pandera_schema(params.dataset)
    assert list(schema.columns) == list(params.dataset.columns)
    assert schema.columns["workclass"].nullable
    assert not schema.columns["age"].nullable


def test_one_file_named_all_is_a_single_file_dataset() -> None:
    spec = DatasetSpec.model_validate(spec_dict(files={"all": {"path": "all.csv"}}))
    assert spec.single_file
    assert not DatasetSpec.model_validate(spec_dict()).single_file
