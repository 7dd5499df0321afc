"""The validate stage: file conventions, lazy validation, a failure that keeps old outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import SAMPLE, sample_params
from greenlight.config import Params
from greenlight.errors import DataValidationError
from greenlight.stages import validate

LINE = "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K"  # noqa: E501


def data_dir(tmp_path: Path, train_lines: list[str] | None = None) -> Path:
    """A copy of the sample files; optional extra lines appended to the train file."""
    target = tmp_path / "data"
    shutil.copytree(SAMPLE, target)
    if train_lines:
        with (target / "adult.data").open("a") as stream:
            stream.write("\n".join(train_lines) + "\n")
    return target


def run(tmp_path: Path, params: Params) -> dict:
    return validate.run(params.dataset, tmp_path / "validated", tmp_path / "reports")


def test_sample_passes_with_the_file_conventions_applied(tmp_path: Path, params: Params) -> None:
    summary = run(tmp_path, params)
    assert summary["rows"] == {"train": 2000, "test": 1000}
    test = pd.read_parquet(tmp_path / "validated" / "test.parquet")
    # the header line "|1x3 Cross validator" is skipped and the trailing "." removed from labels
    assert test["age"].iloc[0] == 25
    assert set(test["income"]) == {"<=50K", ">50K"}
    # "?" is the missing token: a missing value, never a category
    assert test["workclass"].isna().sum() == summary["missing"]["test"]["workclass"] > 0
    assert test["age"].dtype == "int64"
    # label balance per file, for a data change's review
    counts = test["income"].value_counts()
    assert summary["labels"]["test"] == {">50K": counts[">50K"], "<=50K": counts["<=50K"]}
    assert sum(summary["labels"]["train"].values()) == 2000


@pytest.mark.parametrize(
    ("bad_line", "column", "check"),
    [
        (LINE.replace("39,", "7,", 1), "age", "greater_than_or_equal_to(16.0)"),
        (LINE.replace("State-gov", "Space-agency"), "workclass", "isin(allowed values)"),
        (LINE.replace("77516", "lots"), "fnlwgt", "coerce_dtype('int64')"),
        (LINE.replace("<=50K", "maybe"), "income", "isin(allowed values)"),
        (LINE.replace("Bachelors", "?"), "education", "not_nullable"),
    ],
)
def test_bad_row_names_column_check_and_line(
    tmp_path: Path, bad_line: str, column: str, check: str
) -> None:
    params = sample_params(data_dir(tmp_path, [bad_line]))
    with pytest.raises(DataValidationError) as raised:
        run(tmp_path, params)
    message = str(raised.value)
    assert f"column {column!r} failed {check}" in message
    assert "line 2001" in message  # the appended line: the sample has 2,000 lines
    report = json.loads((tmp_path / "reports" / "validation_failure.json").read_text())
    assert [(p["column"], p["check"]) for p in report["problems"]] == [(column, check)]
    assert report["problems"][0]["examples"][0]["line"] == 2001


def test_all_problems_are_collected_at_once(tmp_path: Path) -> None:
    bad = [LINE.replace("39,", "7,", 1), LINE.replace("Male", "Robot"), LINE.replace("13,", "x,")]
    with pytest.raises(DataValidationError) as raised:
        run(tmp_path, sample_params(data_dir(tmp_path, bad)))
    assert str(raised.value).startswith("data validation failed: 3 problem(s)")


def test_values_of_sensitive_columns_are_withheld(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError) as raised:
        run(tmp_path, sample_params(data_dir(tmp_path, [LINE.replace("Male", "Robot")])))
    assert "Robot" not in str(raised.value)
    assert f"line 2001: {validate.WITHHELD!r}" in str(raised.value)
    report = (tmp_path / "reports" / "validation_failure.json").read_text()
    assert "Robot" not in report


def test_a_row_with_too_many_fields_is_a_validation_error(tmp_path: Path) -> None:
    params = sample_params(data_dir(tmp_path, [LINE + ", extra"]))
    with pytest.raises(DataValidationError, match=r"adult\.data: not a ','-separated file"):
        run(tmp_path, params)


def test_failure_leaves_previous_outputs_untouched(tmp_path: Path, params: Params) -> None:
    run(tmp_path, params)
    before = {p.name: p.read_bytes() for p in (tmp_path / "validated").iterdir()}
    bad_params = sample_params(data_dir(tmp_path, [LINE.replace("Male", "Robot")]))
    with pytest.raises(DataValidationError):
        run(tmp_path, bad_params)
    after = {p.name: p.read_bytes() for p in (tmp_path / "validated").iterdir()}
    assert after == before
    assert (tmp_path / "reports" / "validation.json").is_file()


def test_success_clears_a_stale_failure_report(tmp_path: Path, params: Params) -> None:
    stale = tmp_path / "reports" / "validation_failure.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    run(tmp_path, params)
    assert not stale.exists()


def test_cli_exits_non_zero_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from greenlight.cli import app, main

    root = Path(__file__).resolve().parents[2]
    data = data_dir(tmp_path, [LINE.replace("Male", "Robot")])
    (tmp_path / "data" / "adult").mkdir()
    for name in ("adult.data", "adult.test"):
        shutil.move(data / name, tmp_path / "data" / "adult" / name)
    shutil.copy(root / "params.yaml", tmp_path)
    shutil.copy(root / "schema.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["greenlight", "validate"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert CliRunner().invoke(app, ["validate"]).exit_code != 0
    assert (tmp_path / "reports" / "validation_failure.json").is_file()
