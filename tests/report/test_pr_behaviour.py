"""Flipped predictions and importance changes, counted by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from greenlight.report.behaviour import flip_counts, importance_changes

BASE = np.array([0, 0, 1, 1, 0, 1, 0, 0])
HEAD = np.array([1, 0, 0, 1, 1, 1, 0, 0])  # records 0 and 4 to positive, record 2 to negative
SEX = pd.Series(["F", "F", "F", "F", "M", "M", "M", "X"])


def test_flips_overall_and_by_group() -> None:
    flips = flip_counts(BASE, HEAD, {"sex": SEX}, minimum=2)
    assert (flips.overall.records, flips.overall.to_positive, flips.overall.to_negative) == (
        8,
        2,
        1,
    )
    assert flips.overall.flips == 3
    rows = {row.group: row for row in flips.by_attribute["sex"]}
    assert (rows["F"].to_positive, rows["F"].to_negative) == (1, 1)
    assert (rows["M"].to_positive, rows["M"].to_negative, rows["M"].records) == (1, 0, 3)


def test_a_group_below_the_minimum_shows_its_size_only() -> None:
    rows = {row.group: row for row in flip_counts(BASE, HEAD, {"sex": SEX}, 2).by_attribute["sex"]}
    assert rows["X"].records == 1
    assert rows["X"].flips is None and rows["X"].to_positive is None


def test_predictions_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="base has 8 predictions, this branch 7"):
        flip_counts(BASE, HEAD[:7], {}, 1)


def test_importance_changes_largest_first_either_side_may_lack_a_feature() -> None:
    base = {"age": {"mean": 0.10}, "hours": {"mean": 0.05}, "gone": {"mean": 0.02}}
    head = {"age": {"mean": 0.04}, "hours": {"mean": 0.06}, "new": {"mean": 0.03}}
    changes = importance_changes(base, head, top=3)
    assert [change.feature for change in changes] == ["age", "new", "gone"]
    assert changes[0].delta == pytest.approx(-0.06)
    assert (changes[2].base, changes[2].head) == (0.02, None)
    assert importance_changes(None, {"age": 0.5}, top=5)[0].delta == 0.5
