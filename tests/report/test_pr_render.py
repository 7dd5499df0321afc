"""The PR comment's Markdown from fixed inputs: verdict first, metrics, params, fairness, figures,
provenance, and what hardware ran it."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest

from greenlight.config import Params
from greenlight.lockcheck import StaleStage
from greenlight.report.device import Device
from greenlight.report.inputs import Timings
from greenlight.report.render import ReportInputs, Side, render
from greenlight.stages.gate import gate_checks

METRICS = {"accuracy": 0.87, "roc_auc": 0.93, "f1": 0.70, "log_loss": 0.28, "brier": 0.09,
           "n_test": 1000}  # fmt: skip
GROUP = {"count": 500, "selection_rate": 0.2, "true_positive_rate": 0.6,
         "false_positive_rate": 0.05, "accuracy": 0.85}  # fmt: skip
FAIRNESS = {
    "sex": {
        "groups": {"Female": {**GROUP, "selection_rate": 0.1}, "Male": GROUP},
        "demographic_parity_difference": 0.1,
        "equalized_odds_difference": 0.05,
        "thresholds": {"demographic_parity_difference": 0.25, "equalized_odds_difference": 0.35},
        "passed": True,
    }
}
PARAMS = {"train": {"model": "hgb", "hgb": {"learning_rate": 0.1}, "hidden": [128, 64]},
          "gate": {"min": {"f1": 0.68}}}  # fmt: skip
PROVENANCE = {
    "git": {"commit": "0123456789abcdef", "dirty": False},
    "training": {"device": "cpu", "seconds": 1.5},
    "data": {"data.dvc": {"path": "data", "md5": "04c4.dir"}},
    "host": {"python": "3.11.7"},
}
MANIFEST = {"model_version": "hgb-0123456789ab", "model": {"kind": "hgb"}, "threshold": 0.5,
            "training": {"device": "cpu", "valid_roc_auc": 0.93}}  # fmt: skip
H100 = Device(gpus=("NVIDIA H100 80GB HBM3",), driver="550.54.15", cuda="12.4",
              torch_cuda="12.8", torch_sees_gpu=True)  # fmt: skip


def inputs(
    params: Params,
    *,
    metrics: dict[str, Any] | None = None,
    fairness: dict[str, Any] | None = None,
    base: Side | None = None,
    head_params: dict[str, Any] | None = None,
    device: Device = H100,
) -> ReportInputs:
    metrics = METRICS if metrics is None else metrics
    fairness = FAIRNESS if fairness is None else fairness
    return ReportInputs(
        base_ref="origin/main",
        base=base or Side(METRICS, FAIRNESS, PARAMS),
        head=Side(metrics, fairness, head_params or PARAMS),
        checks=gate_checks(metrics, fairness, params),
        provenance=PROVENANCE,
        manifest=MANIFEST,
        device=device,
        figures=("figures/roc.png", "fairness/sex.png"),
    )


def section(markdown: str, title: str) -> str:
    """The text of one `#### title` section."""
    start = markdown.index(f"#### {title}")
    end = markdown.find("\n#### ", start + 1)
    return markdown[start : end if end != -1 else None]


def row(markdown: str, first_cell: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {first_cell} |"))
    return [part.strip() for part in line.strip("|").split("|")]


def test_verdict_comes_first_and_says_passed(params: Params) -> None:
    markdown = render(inputs(params))
    first = markdown.splitlines()[0]
    assert first.startswith("### ✅ Gate passed")
    assert f"all {len(gate_checks(METRICS, FAIRNESS, params))} checks" in first


def test_a_failing_gate_says_which_check_and_why(params: Params) -> None:
    worse = {**METRICS, "accuracy": 0.80}
    unfair = copy.deepcopy(FAIRNESS)
    unfair["sex"]["demographic_parity_difference"] = 0.4
    markdown = render(inputs(params, metrics=worse, fairness=unfair))
    first = markdown.splitlines()[0]
    assert first.startswith("### ❌ Gate failed, 2 of")
    assert "accuracy = 0.8000, must be at least 0.86" in first
    assert "sex.demographic_parity_difference = 0.4000, must be at most 0.25" in first
    assert row(markdown, "accuracy")[-2:] == ["**worse**", "≥ 0.86 **FAIL**"]
    fairness = section(markdown, "Fairness")
    parity = row(fairness, "demographic_parity_difference")
    assert parity == [
        "demographic_parity_difference",
        "0.1000",
        "0.4000",
        "n/a",
        "0.2500",
        "**FAIL**",
    ]


def test_metrics_table_shows_base_branch_delta_and_direction(params: Params) -> None:
    better = {**METRICS, "accuracy": 0.88, "log_loss": 0.27}
    markdown = render(inputs(params, metrics=better))
    assert row(markdown, "accuracy") == ["accuracy", "0.8700", "0.8800", "+0.0100", "better",
                                         "≥ 0.86 pass"]  # fmt: skip
    assert row(markdown, "log_loss")[3:5] == ["-0.0100", "better"]
    assert row(markdown, "roc_auc")[3:5] == ["0", ""]  # unchanged
    assert row(markdown, "n_test")[1:4] == ["1,000", "1,000", "0"]


def test_a_metric_added_and_a_metric_removed(params: Params) -> None:
    head = {key: value for key, value in METRICS.items() if key != "brier"} | {"ece": 0.02}
    markdown = render(inputs(params, metrics=head))
    assert row(markdown, "ece")[1:5] == ["n/a", "0.0200", "n/a", "new"]
    assert row(markdown, "brier")[1:5] == ["0.0900", "n/a", "n/a", "removed"]


def test_no_base_metrics_yet(params: Params) -> None:
    markdown = render(inputs(params, base=Side()))
    metrics = section(markdown, "Metrics")
    assert "No metrics at `origin/main` yet: every metric is new." in metrics
    assert row(metrics, "accuracy")[1:5] == ["n/a", "0.8700", "n/a", "new"]
    assert "No params.yaml at `origin/main`" in section(markdown, "Params changed")
    assert row(section(markdown, "Fairness"), "equalized_odds_difference")[1] == "n/a"


def test_params_that_changed_are_listed(params: Params) -> None:
    head = {"train": {"model": "mlp", "hgb": {"learning_rate": 0.1}, "mlp": {"epochs": 5},
                      "hidden": [64]},
            "gate": {"min": {"f1": 0.68}}}  # fmt: skip
    changed = section(render(inputs(params, head_params=head)), "Params changed")
    assert row(changed, "`train.model`") == ["`train.model`", "`hgb`", "`mlp`"]
    assert row(changed, "`train.mlp.epochs`") == ["`train.mlp.epochs`", "_absent_", "`5`"]
    assert row(changed, "`train.hidden`") == ["`train.hidden`", "`[128, 64]`", "`[64]`"]
    assert "learning_rate" not in changed


def test_unchanged_params_say_so(params: Params) -> None:
    assert "None: same params.yaml as `origin/main`." in render(inputs(params))


def test_fairness_lists_every_group_and_difference_against_its_threshold(params: Params) -> None:
    fairness = section(render(inputs(params)), "Fairness")
    assert "**sex**" in fairness
    assert row(fairness, "group") == ["group", "count", "selection rate", "TPR", "FPR", "accuracy"]
    assert row(fairness, "Female") == ["Female", "500", "0.1000", "0.6000", "0.0500", "0.8500"]
    odds = row(fairness, "equalized_odds_difference")
    assert odds == ["equalized_odds_difference", "0.0500", "0.0500", "n/a", "0.3500", "pass"]


def test_a_sensitive_attribute_dropped_since_the_base_is_named(params: Params) -> None:
    base = Side(METRICS, {**FAIRNESS, "race": FAIRNESS["sex"]}, PARAMS)
    assert "No longer evaluated (present at the base): race." in render(inputs(params, base=base))


def test_the_comment_links_no_image_and_names_the_pngs_kept_as_artifacts(params: Params) -> None:
    """A linked local image is what CML uploads to its asset host: there is none."""
    markdown = render(inputs(params))
    assert "![" not in markdown and "<img" not in markdown
    assert "`figures/roc.png`, `fairness/sex.png`" in markdown
    assert "workflow artifacts" in markdown
    no_figures = render(dataclasses.replace(inputs(params), figures=()))
    assert "PNG renderings" not in no_figures


def test_too_small_groups_show_their_count_only_and_intervals_are_printed(params: Params) -> None:
    fairness = copy.deepcopy(FAIRNESS)
    fairness["sex"]["groups"]["Other"] = {"count": 4, "too_small": True}
    fairness["sex"]["min_group_count"] = 30
    fairness["sex"]["interval"] = {"demographic_parity_difference": [0.05, 0.15]}
    fairness["sex"]["confidence_level"] = 0.95
    section_text = section(render(inputs(params, fairness=fairness)), "Fairness")
    reason = "too small to judge (< 30 records)"
    assert row(section_text, "Other") == ["Other", "4", reason, "", "", ""]
    assert row(section_text, "difference")[3] == "95% interval"
    assert row(section_text, "demographic_parity_difference")[3] == "[0.0500, 0.1500]"


def test_the_figures_hold_the_base_and_the_branch_curve(params: Params) -> None:
    roc = pd.DataFrame({"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.9, 1.0]})
    better = pd.DataFrame({"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.95, 1.0]})
    base = Side(METRICS, FAIRNESS, PARAMS, curves={"roc": roc})
    head = dataclasses.replace(inputs(params).head, curves={"roc": better})
    markdown = render(dataclasses.replace(inputs(params, base=base), head=head))
    chart = markdown[markdown.index("```mermaid") :]
    lines = [line.strip() for line in chart.splitlines() if line.strip().startswith("line [")]
    assert lines[0] == "line [" + ", ".join(_interpolated(0.9)) + "]"
    assert lines[1] == "line [" + ", ".join(_interpolated(0.95)) + "]"
    assert 'title "ROC (blue: base, orange: this branch, grey: diagonal)"' in chart


def _interpolated(middle: float) -> list[str]:
    values = np.interp(np.linspace(0, 1, 21), [0, 0.5, 1], [0, middle, 1])
    return [f"{value:.4f}".rstrip("0").rstrip(".") or "0" for value in values]


def test_cost_compares_size_and_both_models_timed_here_and_names_what_was_not_measured(
    params: Params,
) -> None:
    """Sizes come from each side's committed cost.json; no timing is committed, so the base's
    only timing is the one this report measured beside the branch's."""
    base = Side(METRICS, FAIRNESS, PARAMS, cost={"model_bytes": 1000 * 1024})
    head = dataclasses.replace(inputs(params).head, cost={"model_bytes": 1500 * 1024})
    timings = Timings(predict_ms=(2.0, 3.0), training_seconds=12.5)
    markdown = render(dataclasses.replace(inputs(params, base=base), head=head, timings=timings))
    cost = section(markdown, "Cost")
    assert row(cost, "model size (KiB)")[1:] == ["1,000.0", "1,500.0", "+50%"]
    assert row(cost, "one record, predict (ms)")[1:] == ["2.000", "3.000", "+50%"]
    assert row(cost, "training time (s)")[1:] == ["n/a", "12.50", "n/a"]
    assert "| one record, explained / unexplained |" not in cost
    assert "Not measured here (restored from the DVC cache): one record, explained" in cost


def test_no_cost_figure_on_the_branch_means_no_cost_section(params: Params) -> None:
    assert "#### Cost" not in render(inputs(params))


def test_an_over_long_comment_leaves_out_its_last_sections_and_names_them(params: Params) -> None:
    whole = render(inputs(params))
    short = render(inputs(params), limit=len(whole) // 2)
    assert len(short) <= len(whole) // 2
    assert short.startswith("### ✅ Gate passed")
    assert "#### Provenance" in short  # verdict and provenance always stay
    [left_out] = [line for line in short.splitlines() if line.startswith("Left out")]
    assert left_out.startswith("Left out to stay under GitHub's comment limit: ")
    assert "PNG list" in left_out  # the last optional section goes first
    assert "#### Metrics" in short  # the first ones stay while they fit


def test_provenance_names_version_commit_data_and_devices(params: Params) -> None:
    provenance = section(render(inputs(params)), "Provenance")
    assert row(provenance, "model")[1] == "hgb `hgb-0123456789ab`, threshold 0.5"
    assert row(provenance, "trained at commit")[1] == "`0123456789abcdef`"
    assert row(provenance, "data (data.dvc md5)")[1] == "`04c4.dir`"
    assert row(provenance, "trained on")[1] == "cpu in 1.5 s"
    assert row(provenance, "this runner")[1] == "NVIDIA H100 80GB HBM3"


def test_without_a_training_run_here_provenance_says_so_and_keeps_the_version(
    params: Params,
) -> None:
    markdown = render(dataclasses.replace(inputs(params), provenance={}))
    provenance = section(markdown, "Provenance")
    assert row(provenance, "model")[1].startswith("hgb `hgb-0123456789ab`")
    assert "not trained on this runner" in row(provenance, "trained at commit")[1]
    assert row(provenance, "trained on")[1] == "cpu (elsewhere)"


def test_a_stale_dvc_lock_is_the_verdict_and_nothing_says_passed(params: Params) -> None:
    stale = (
        StaleStage("train", ("models/bundle",)),
        StaleStage("card", ("reports/model_card.md",)),
    )
    markdown = render(dataclasses.replace(inputs(params), stale=stale))
    first = markdown.splitlines()[0]
    assert first == (
        "### ❌ dvc.lock is stale: stages train (models/bundle); card (reports/model_card.md)"
    )
    assert "passed" not in markdown.split("#### Metrics")[0]
    assert "the gate checks pass on the reproduced outputs" in markdown


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (H100, "GPU: NVIDIA H100 80GB HBM3 (driver 550.54.15, CUDA 12.4; torch built for CUDA"),
        (Device(), "**No GPU on this runner: the pipeline ran on CPU.**"),
        (dataclasses.replace(H100, torch_cuda=None, torch_sees_gpu=False),
         "torch (a CPU-only build) cannot use it: the pipeline fell back to CPU."),
    ],
)  # fmt: skip
def test_the_runner_line_says_plainly_when_it_fell_back_to_cpu(
    params: Params, device: Device, expected: str
) -> None:
    second = render(inputs(params, device=device)).split("\n\n")[1]
    assert second.startswith("Compared with `origin/main`. Runner: ")
    assert expected in second
