"""The request and response models, derived from the bundle's dataset contract (the same spec the
pipeline validated its data with), so a team's own data needs no code change.

Per column: int -> a strict integer (no "39", no 39.5, no true) within min/max; float -> a finite
number within min/max; category -> exactly one of the allowed values; nullable -> may be null or
omitted. Unknown fields and the target column are rejected. A column the model does not use (a
sensitive attribute of a model trained without them) may be omitted; if sent, it is still checked.
"""

from __future__ import annotations

import keyword
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from greenlight.spec import ColumnSpec, DatasetSpec

# hide_input_in_errors: a rejected value (perhaps a sensitive attribute) never reaches a log line.
_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, hide_input_in_errors=True)


class Prediction(BaseModel):
    label: str
    probability: float


class PredictResponse(BaseModel):
    model_version: str
    predictions: list[Prediction]


@dataclass(frozen=True)
class RequestSchema:
    """The pydantic models for one bundle, and how to read a validated record back as a dict."""

    record: type[BaseModel]
    request: type[BaseModel]
    attributes: dict[str, str]  # column name -> attribute name on `record`

    def as_dict(self, record: BaseModel) -> dict[str, Any]:
        """{column: value} for every input column (None where a nullable one was omitted)."""
        return {column: getattr(record, name) for column, name in self.attributes.items()}


def request_schema(spec: DatasetSpec, features: Sequence[str], max_batch: int) -> RequestSchema:
    """The record model for `spec`, and the request body `{"records": [record, ...]}`."""
    columns = spec.input_columns()
    attributes = {column: _attribute(column, index) for index, column in enumerate(columns)}
    fields = {
        attributes[column]: _field(spec.columns[column], column, required=column in features)
        for column in columns
    }
    record = create_model("Record", __config__=_STRICT, **fields)
    records = Annotated[list[record], Field(min_length=1, max_length=max_batch)]  # type: ignore[valid-type]
    request = create_model("PredictRequest", __config__=_STRICT, records=(records, ...))
    return RequestSchema(record=record, request=request, attributes=attributes)


def _attribute(column: str, index: int) -> str:
    """The column name itself where Python allows it; otherwise a safe name aliased to it."""
    usable = column.isidentifier() and not keyword.iskeyword(column)
    reserved = column.startswith("_") or column.startswith("model_") or hasattr(BaseModel, column)
    return column if usable and not reserved else f"column_{index}"


def _field(column: ColumnSpec, name: str, required: bool) -> tuple[Any, Any]:
    kind = _value_type(column)
    optional = column.nullable or not required
    annotation = kind | None if column.nullable else kind
    default = None if optional else ...
    return annotation, Field(default, alias=name)


def _value_type(column: ColumnSpec) -> Any:
    if column.type == "category":
        return Literal[column.values]
    bounds = Field(ge=column.min, le=column.max, strict=True)
    if column.type == "int":
        return Annotated[int, bounds]
    return Annotated[float, bounds, Field(allow_inf_nan=False)]
