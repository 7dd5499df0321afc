"""The request model derived from the dataset spec: strict, complete, and nothing else."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from serving_support import tiny_record, tiny_spec

from greenlight.serving.schema import RequestSchema, request_schema

SPEC = tiny_spec()
FEATURES = SPEC.feature_columns(use_sensitive=False)


def schema(max_batch: int = 10, features: list[str] = FEATURES) -> RequestSchema:
    return request_schema(SPEC, features, max_batch)


def problems(body: Any, max_batch: int = 10, features: list[str] = FEATURES) -> list[tuple]:
    """(location, message) of every validation error for the JSON `body`; [] when it is valid."""
    text = body if isinstance(body, str) else json.dumps(body)
    try:
        schema(max_batch, features).request.model_validate_json(text)
    except ValidationError as error:
        return [(problem["loc"], problem["msg"]) for problem in error.errors()]
    return []


def one(record: dict[str, Any]) -> list[tuple]:
    return problems({"records": [record]})


def test_a_valid_record_reads_back_under_its_column_names() -> None:
    request = schema().request.model_validate_json(json.dumps({"records": [tiny_record()]}))
    assert schema().as_dict(request.records[0]) == tiny_record()


@pytest.mark.parametrize("value", ["40", 40.0, 40.5, True, None, [40], {"v": 40}])
def test_int_columns_take_only_integers(value: Any) -> None:
    assert one(tiny_record(age=value)) == [
        (("records", 0, "age"), "Input should be a valid integer")
    ]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("age", -1, "greater than or equal to 0"),
        ("age", 121, "less than or equal to 120"),
        ("score", 1.5, "less than or equal to 1"),
        ("hours-per-week", 0, "greater than or equal to 1"),
    ],
)
def test_numbers_outside_the_range_are_refused(column: str, value: Any, message: str) -> None:
    [(location, text)] = one(tiny_record(**{column: value}))
    assert location == ("records", 0, column)
    assert message in text


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_float_columns_refuse_nan_and_infinity(literal: str) -> None:
    body = json.dumps({"records": [tiny_record(score=0.25)]}).replace("0.25", literal)
    [(location, text)] = problems(body)
    assert location == ("records", 0, "score")
    assert "finite" in text


def test_float_columns_take_integers() -> None:
    assert one(tiny_record(score=1)) == []


@pytest.mark.parametrize("value", ["blue", "RED", "", 1, None])
def test_categories_take_only_the_allowed_values(value: Any) -> None:
    [(location, text)] = one(tiny_record(colour=value))
    assert location == ("records", 0, "colour")
    assert "'red' or 'green'" in text


def test_nullable_columns_take_null_or_nothing() -> None:
    assert one(tiny_record(score=None)) == []
    record = tiny_record()
    del record["hours-per-week"]
    request = schema().request.model_validate_json(json.dumps({"records": [record]}))
    assert schema().as_dict(request.records[0])["hours-per-week"] is None


def test_a_missing_required_column_is_named() -> None:
    record = tiny_record()
    del record["class"]
    assert one(record) == [(("records", 0, "class"), "Field required")]


@pytest.mark.parametrize("extra", ["label", "unknown", "Age", "column_4"])
def test_unknown_fields_and_the_target_are_refused(extra: str) -> None:
    assert one({**tiny_record(), extra: "yes"}) == [
        (("records", 0, extra), "Extra inputs are not permitted")
    ]


def test_sensitive_columns_are_optional_unless_the_model_uses_them() -> None:
    without_sex = {key: value for key, value in tiny_record().items() if key != "sex"}
    assert one(without_sex) == []
    [(location, _)] = one(tiny_record(sex="X"))  # still checked when sent
    assert location == ("records", 0, "sex")
    with_sensitive = SPEC.feature_columns(use_sensitive=True)
    body = {"records": [without_sex]}
    assert problems(body, features=with_sensitive) == [(("records", 0, "sex"), "Field required")]


def test_batches_hold_one_to_max_records() -> None:
    assert problems({"records": []}) == [
        (("records",), "List should have at least 1 item after validation, not 0")
    ]
    assert problems({"records": [tiny_record()] * 3}, max_batch=3) == []
    [(location, text)] = problems({"records": [tiny_record()] * 4}, max_batch=3)
    assert location == ("records",)
    assert "at most 3 items" in text


@pytest.mark.parametrize(
    "body", ["", "not json", "[]", '"records"', "null", '{"records": {}}', '{"rows": []}']
)
def test_malformed_bodies_are_validation_errors(body: str) -> None:
    assert problems(body)


def test_a_second_top_level_key_is_refused() -> None:
    assert problems({"records": [tiny_record()], "debug": True}) == [
        (("debug",), "Extra inputs are not permitted")
    ]


def _valid_value(name: str) -> st.SearchStrategy[Any]:
    column = SPEC.columns[name]
    if column.type == "category":
        values = st.sampled_from(column.values)
    elif column.type == "int":
        low = -(2**31) if column.min is None else int(column.min)
        high = 2**31 if column.max is None else int(column.max)
        values = st.integers(low, high)
    else:
        values = st.floats(column.min, column.max, allow_nan=False)
    return st.one_of(values, st.none()) if column.nullable else values


RECORDS = st.fixed_dictionaries({name: _valid_value(name) for name in SPEC.input_columns()})


@settings(max_examples=200, deadline=None)
@given(RECORDS)
def test_every_record_the_spec_allows_is_accepted_unchanged(record: dict[str, Any]) -> None:
    request = schema().request.model_validate_json(json.dumps({"records": [record]}))
    read_back = schema().as_dict(request.records[0])
    assert read_back == record
    assert all(not isinstance(value, float) or math.isfinite(value) for value in read_back.values())


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*SPEC.input_columns(), "label", "x"]), JSON_VALUES))
def test_anything_else_is_a_validation_error_never_a_crash(record: dict[str, Any]) -> None:
    """Random JSON in place of a record: either valid under the spec, or a ValidationError."""
    body = json.dumps({"records": [record]})
    try:
        schema().request.model_validate_json(body)
    except ValidationError as error:
        assert all(problem["loc"][:2] == ("records", 0) for problem in error.errors())


def test_error_text_never_carries_the_rejected_value() -> None:
    """Server logs may print a ValidationError; a sensitive value must not appear in it."""
    body = json.dumps({"records": [tiny_record(sex="secret-value")]})
    with pytest.raises(ValidationError) as caught:
        schema().request.model_validate_json(body)
    assert "secret-value" not in str(caught.value)
    assert "sex" in str(caught.value)
