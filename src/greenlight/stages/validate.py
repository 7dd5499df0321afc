"""Stage 1: read the raw files exactly as the dataset spec describes them (train and test, or one
file `all`) and check them against the pandera schema. All problems are collected (lazy
validation); on any problem the stage writes a failure report, exits non-zero and leaves the
previous outputs untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from greenlight.config import Params
from greenlight.errors import DataValidationError, MissingInputError
from greenlight.files import atomic_directory, write_json, write_parquet
from greenlight.paths import REPORTS, VALIDATED
from greenlight.spec import DatasetSpec, FileSpec, pandera_schema

FAILURE_REPORT = REPORTS / "validation_failure.json"
SUMMARY = REPORTS / "validation.json"
EXAMPLES_PER_CHECK = 3
WITHHELD = "<sensitive value withheld>"


def read_raw(path: Path, file: FileSpec, spec: DatasetSpec) -> pd.DataFrame:
    """Every cell as text, indexed by its line number in the file (blank lines dropped)."""
    try:
        frame = pd.read_csv(
            path,
            sep=spec.separator,
            header=0 if spec.header else None,
            names=None if spec.header else list(spec.columns),
            skiprows=file.skip_rows,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            skipinitialspace=True,
        )
    except pd.errors.ParserError as error:
        raise DataValidationError(
            f"{path}: not a {spec.separator!r}-separated file: {error}"
        ) from error
    first_line = file.skip_rows + (2 if spec.header else 1)
    frame.index = pd.RangeIndex(first_line, first_line + len(frame), name="line")
    blank = frame.fillna("").eq("").all(axis=1)
    return frame[~blank]


def clean(frame: pd.DataFrame, file: FileSpec, spec: DatasetSpec) -> pd.DataFrame:
    """The file's conventions made explicit: trimmed text, the missing token, the label suffix."""
    text = frame.map(lambda cell: cell.strip() if isinstance(cell, str) else cell)
    text = text.replace(spec.missing_token, np.nan)
    target = spec.target.column
    if file.label_suffix and target in text:
        text[target] = text[target].str.removesuffix(file.label_suffix)
    return text


def check(frame: pd.DataFrame, spec: DatasetSpec, source: str) -> tuple[pd.DataFrame, list]:
    """Typed data and an empty problem list, or the input and one entry per failing check."""
    import pandera.errors  # noqa: PLC0415 (slow import, only this stage needs it)

    try:
        return pandera_schema(spec).validate(frame, lazy=True), []
    except pandera.errors.SchemaErrors as errors:
        return frame, describe_failures(errors.failure_cases, source, set(spec.sensitive))


def describe_failures(
    cases: pd.DataFrame, source: str, sensitive: set[str]
) -> list[dict[str, Any]]:
    """Group pandera's failure cases by column and check, with a few example lines each. Values
    of sensitive columns are withheld: the line number is enough to find them."""
    cases = _root_causes(cases.assign(column=cases["column"].fillna(cases["schema_context"])))
    problems = []
    for (column, check_name), group in cases.groupby(["column", "check"], sort=True):
        examples = group.head(EXAMPLES_PER_CHECK).to_dict("records")
        problems.append(
            {
                "file": source,
                "column": str(column),
                "check": _short(str(check_name)),
                "count": len(group),
                "examples": [_example(case, column in sensitive) for case in examples],
            }
        )
    return problems


def format_failures(problems: list[dict[str, Any]]) -> str:
    lines = [f"data validation failed: {len(problems)} problem(s)"]
    for problem in problems:
        shown = ", ".join(f"line {ex['line']}: {ex['value']!r}" for ex in problem["examples"])
        lines.append(
            f"  {problem['file']}: column {problem['column']!r} failed {problem['check']} "
            f"in {problem['count']} row(s), e.g. {shown}"
        )
    return "\n".join(lines)


def run(spec: DatasetSpec, out_dir: Path = VALIDATED, reports: Path = REPORTS) -> dict[str, Any]:
    """Validate every file in the spec; write typed parquet files only if all of them pass."""
    typed, problems = {}, []
    for split, file in spec.files.items():
        frame = clean(read_raw(_existing(split, file), file, spec), file, spec)
        typed[split], found = check(frame, spec, file.path)
        problems += found
    if problems:
        write_json(reports / FAILURE_REPORT.name, {"status": "failed", "problems": problems})
        raise DataValidationError(format_failures(problems))
    with atomic_directory(out_dir) as staging:  # exactly this run's files, or the old folder
        for split, frame in typed.items():
            write_parquet(staging / f"{split}.parquet", frame.reset_index(drop=True))
    (reports / FAILURE_REPORT.name).unlink(missing_ok=True)
    return write_summary(typed, spec, reports / SUMMARY.name)


def _existing(split: str, file: FileSpec) -> Path:
    path = Path(file.path)
    if not path.is_file():
        raise MissingInputError(
            f"dataset.files.{split}.path: {path} is not a file (see params.yaml)"
        )
    return path


def write_summary(typed: dict[str, pd.DataFrame], spec: DatasetSpec, path: Path) -> dict[str, Any]:
    """Rows, label counts and missing values per file: what a data change is reviewed by."""
    summary = {
        "rows": {split: len(frame) for split, frame in typed.items()},
        "labels": {split: _label_counts(frame, spec) for split, frame in typed.items()},
        "missing": {split: _missing_counts(frame) for split, frame in typed.items()},
    }
    write_json(path, summary)
    return summary


def _label_counts(frame: pd.DataFrame, spec: DatasetSpec) -> dict[str, int]:
    counts = frame[spec.target.column].value_counts()
    labels = (spec.target.positive, spec.target.negative)
    return {label: int(counts.get(label, 0)) for label in labels}


def _missing_counts(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame.isna().sum()
    return {str(name): int(count) for name, count in counts.items() if count}


def _root_causes(cases: pd.DataFrame) -> pd.DataFrame:
    """A value that does not parse as a number also fails the dtype and range checks of its
    column; report only the parse failure (the other checks run once the column parses)."""
    is_parse = cases["check"].astype(str).str.startswith("coerce_dtype")
    unparsed = set(cases.loc[is_parse, "column"])
    return cases[is_parse | ~cases["column"].isin(unparsed)]


def _short(check_name: str) -> str:
    """`isin((...41 values...))` is unreadable in a log: the allowed values are in params.yaml."""
    return "isin(allowed values)" if check_name.startswith("isin(") else check_name


def _example(case: dict[str, Any], withhold: bool) -> dict[str, Any]:
    """One failing cell: its line in the file (None for a whole-column problem) and its value."""
    line, value = case["index"], case["failure_case"]
    shown = None if pd.isna(value) else str(value)
    return {
        "line": int(line) if isinstance(line, (int, np.integer)) else None,
        "value": WITHHELD if withhold and shown is not None else shown,
    }


def main(params: Params) -> dict[str, Any]:
    return run(params.dataset)
