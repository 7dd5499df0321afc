"""Base versus branch as data: metric deltas and directions, changed params."""

from __future__ import annotations

import pytest

from greenlight.report.compare import changed_params, direction, flatten, metric_rows


def rows_by_name(base: dict | None, head: dict, **gate: dict) -> dict:
    rows = metric_rows(base, head, gate.get("gate_min", {}), gate.get("gate_max", {}))
    return {row.name: row for row in rows}


def test_higher_is_better_metrics_improve_upwards() -> None:
    rows = rows_by_name({"accuracy": 0.85, "recall": 0.70}, {"accuracy": 0.86, "recall": 0.65})
    assert rows["accuracy"].trend == "better"
    assert rows["accuracy"].delta == pytest.approx(0.01)
    assert rows["recall"].trend == "worse"


def test_log_loss_and_brier_improve_downwards() -> None:
    rows = rows_by_name({"log_loss": 0.30, "brier": 0.08}, {"log_loss": 0.28, "brier": 0.09})
    assert rows["log_loss"].trend == "better"
    assert rows["brier"].trend == "worse"


def test_an_unknown_metric_takes_its_direction_from_the_gate() -> None:
    assert direction("latency_ms", {}, {"latency_ms": 5.0}) == "lower"
    assert direction("coverage", {"coverage": 0.9}, {}) == "higher"
    rows = rows_by_name({"n_test": 100, "odd": 1.0}, {"n_test": 120, "odd": 2.0})
    assert rows["n_test"].trend == "changed"  # a count has no better or worse
    assert rows["odd"].direction == "none"


def test_rounding_noise_is_unchanged() -> None:
    rows = rows_by_name({"f1": 0.7}, {"f1": 0.7 + 1e-9})
    assert rows["f1"].trend == "unchanged"


def test_added_and_removed_metrics_keep_their_side() -> None:
    rows = rows_by_name({"accuracy": 0.8, "old": 0.5}, {"accuracy": 0.8, "new": 0.3})
    assert list(rows) == ["accuracy", "new", "old"]  # the branch's order, then the dropped ones
    assert (rows["new"].base, rows["new"].head, rows["new"].trend) == (None, 0.3, "new")
    assert (rows["old"].base, rows["old"].head, rows["old"].trend) == (0.5, None, "removed")
    assert rows["new"].delta is None


def test_no_base_metrics_makes_every_metric_new() -> None:
    rows = rows_by_name(None, {"accuracy": 0.8, "f1": 0.6})
    assert {row.trend for row in rows.values()} == {"new"}


def test_flatten_uses_dotted_keys_and_keeps_lists() -> None:
    tree = {"train": {"hgb": {"learning_rate": 0.1}, "hidden": [1, 2]}, "empty": {}}
    assert flatten(tree) == {"train.hgb.learning_rate": 0.1, "train.hidden": [1, 2], "empty": {}}


def test_changed_params_lists_changes_additions_and_removals() -> None:
    base = {"train": {"model": "hgb", "seed": 1, "old": True}, "gate": {"min": {"f1": 0.6}}}
    head = {"train": {"model": "mlp", "seed": 1, "new": 3}, "gate": {"min": {"f1": 0.6}}}
    changes = {change.key: change for change in changed_params(base, head)}
    assert list(changes) == ["train.model", "train.new", "train.old"]
    assert (changes["train.model"].base, changes["train.model"].head) == ("hgb", "mlp")
    assert changes["train.new"].missing == "base"
    assert changes["train.old"].missing == "head"


def test_identical_params_have_no_changes() -> None:
    params = {"train": {"model": "hgb"}}
    assert changed_params(params, params) == []
