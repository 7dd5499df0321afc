"""The dataset contract: one spec in params.yaml, from which the pipeline's pandera schema and the
service's request model are both derived, so the two can never disagree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from greenlight.settings_base import Strict

if TYPE_CHECKING:
    import pandera.pandas as pa

MISSING_CATEGORY = "__missing__"  # what a missing categorical value becomes before encoding
TWO_FILES = frozenset({"train", "test"})  # the test file is the test split
ONE_FILE = frozenset({"all"})  # featurize holds out a seeded, stratified test split


class ColumnSpec(Strict):
    type: Literal["int", "float", "category"]
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    nullable: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if self.type == "category" and not self.values:
            raise ValueError("a category column needs a non-empty `values` list")
        if self.type != "category" and self.values:
            raise ValueError("`values` only applies to category columns")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class FileSpec(Strict):
    path: str
    skip_rows: int = Field(0, ge=0)
    label_suffix: str = ""


class TargetSpec(Strict):
    column: str
    positive: str
    negative: str


class DatasetSpec(Strict):
    name: str
    description: str = ""
    separator: str = ","
    header: bool = False
    missing_token: str = "?"  # noqa: S105 (a data token, not a password)
    files: dict[str, FileSpec]
    target: TargetSpec
    sensitive: tuple[str, ...] = ()
    columns: dict[str, ColumnSpec]

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        if set(self.files) not in (TWO_FILES, ONE_FILE):
            raise ValueError(
                f"files has {sorted(self.files)}: give either `train` and `test` (the test file "
                "is the test split) or one file `all` (featurize.test_size of it is held out as "
                "the test split)"
            )
        self._check_target()
        unknown = [name for name in self.sensitive if name not in self.columns]
        if unknown:
            raise ValueError(f"sensitive columns {unknown} are not in columns")
        return self

    def _check_target(self) -> None:
        target = self.columns.get(self.target.column)
        if target is None:
            raise ValueError(f"target column {self.target.column!r} is not in columns")
        labels = {self.target.positive, self.target.negative}
        if target.type != "category" or set(target.values) != labels:
            raise ValueError(f"target column must be a category with values {sorted(labels)}")

    @property
    def single_file(self) -> bool:
        return set(self.files) == ONE_FILE

    def feature_columns(self, use_sensitive: bool) -> list[str]:
        """Model inputs in file order: every column but the target (and the sensitive ones)."""
        excluded = {self.target.column} | (set() if use_sensitive else set(self.sensitive))
        return [name for name in self.columns if name not in excluded]

    def numeric(self, names: list[str]) -> list[str]:
        return [name for name in names if self.columns[name].type != "category"]

    def categorical(self, names: list[str]) -> list[str]:
        return [name for name in names if self.columns[name].type == "category"]

    def input_columns(self) -> list[str]:
        """What a caller may send: every column but the target."""
        return [name for name in self.columns if name != self.target.column]


def pandera_schema(spec: DatasetSpec) -> pa.DataFrameSchema:
    """The schema raw data must meet; numbers are coerced so a bad token is reported, not lost."""
    import pandera.pandas as pa  # noqa: PLC0415 (pandera is slow to import; only validation needs it)

    columns = {name: _pandera_column(column) for name, column in spec.columns.items()}
    return pa.DataFrameSchema(columns, strict=True, coerce=False, name=spec.name)


def _pandera_column(column: ColumnSpec) -> pa.Column:
    import pandera.pandas as pa  # noqa: PLC0415

    if column.type == "category":
        return pa.Column(str, pa.Check.isin(column.values), nullable=column.nullable)
    checks = []
    if column.min is not None:
        checks.append(pa.Check.ge(column.min))
    if column.max is not None:
        checks.append(pa.Check.le(column.max))
    dtype = "float64" if column.type == "float" or column.nullable else "int64"
    return pa.Column(dtype, checks, nullable=column.nullable, coerce=True)
