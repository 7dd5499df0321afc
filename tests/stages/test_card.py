"""The card stage and the training run's record: the card states the model, its data, results and
library versions and nothing that differs between runs; the record (provenance.json) holds what
does (commit, times, host), written by the train stage."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from conftest import PipelineRun, working_directory
from greenlight import provenance
from greenlight.files import md5_file
from greenlight.manifest import read_manifest
from greenlight.provenance import device_label
from greenlight.stages import card


def test_the_training_record_names_commit_times_host_and_device(
    pipeline_run: PipelineRun,
) -> None:
    record = json.loads((pipeline_run.reports / "provenance.json").read_text())
    manifest = json.loads((pipeline_run.bundle / "manifest.json").read_text())
    assert record["model_version"] == manifest["model_version"]
    assert set(record) >= {"git", "training", "host", "packages", "data"}
    assert record["training"]["device"] == "cpu"
    assert record["training"]["accelerator"] is None
    assert record["training"]["seconds"] > 0
    assert record["training"]["started_at"] <= record["training"]["finished_at"]
    assert record["packages"]["scikit-learn"]


def test_the_bundle_holds_nothing_that_differs_between_runs(pipeline_run: PipelineRun) -> None:
    manifest = json.loads((pipeline_run.bundle / "manifest.json").read_text())
    assert set(manifest["training"]) == {"device", "valid_roc_auc"}
    text = json.dumps(manifest)
    record = json.loads((pipeline_run.reports / "provenance.json").read_text())
    assert record["git"]["commit"] not in text
    assert record["training"]["finished_at"] not in text


def test_card_states_version_use_limits_metrics_and_fairness(pipeline_run: PipelineRun) -> None:
    text = (pipeline_run.reports / "model_card.md").read_text()
    version = json.loads((pipeline_run.bundle / "manifest.json").read_text())["model_version"]
    assert text.startswith(f"# Model card: adult {version}")
    for heading in (
        "## Intended use",
        "## Limitations",
        "## Evaluation",
        "## Fairness",
        "## Provenance",
    ):
        assert heading in text
    assert "| accuracy |" in text
    assert "demographic_parity_difference" in text
    assert "![roc](figures/roc.png)" in text
    assert f"git log -S {version}" in text


def test_the_card_is_the_same_bytes_when_written_again(pipeline_run: PipelineRun) -> None:
    """Another run of the stage, later, from another commit state: the same card."""
    before = (pipeline_run.reports / "model_card.md").read_bytes()
    with working_directory(pipeline_run.workdir):
        card.run(pipeline_run.params)
    assert (pipeline_run.reports / "model_card.md").read_bytes() == before
    record = json.loads((pipeline_run.reports / "provenance.json").read_text())
    assert record["git"]["commit"].encode() not in before


def test_card_explains_and_marks_groups_too_small_to_judge(pipeline_run: PipelineRun) -> None:
    text = (pipeline_run.reports / "model_card.md").read_text()
    explanations = text[text.index("## Explanations") :]
    assert "mean absolute contribution per feature, in log-odds" in explanations
    assert "| feature | Female (n=" in explanations
    assert "Too small to judge: Amer-Indian-Eskimo (n=7)" in explanations
    fairness = text[text.index("## Fairness") : text.index("## Explanations")]
    assert "| Other | 7 | too small to judge (< 30 records) |" in fairness
    assert "| difference | estimate | 95% interval | max |" in fairness


def test_data_hashes_are_the_md5_of_each_file_the_spec_names(pipeline_run: PipelineRun) -> None:
    hashes = card.data_hashes(pipeline_run.params)
    files = pipeline_run.params.dataset.files.values()
    assert hashes == {file.path: md5_file(Path(file.path)) for file in files}
    assert all(len(md5) == 32 for md5 in hashes.values())


def test_the_data_pointer_comes_from_data_dvc_or_is_null_not_invented(tmp_path: Path) -> None:
    pointer = tmp_path / "data.dvc"
    assert provenance.data_pointer(pointer) == {"path": None, "md5": None}
    pointer.write_text(yaml.safe_dump({"outs": [{"path": "data", "md5": "abc.dir"}]}))
    assert provenance.data_pointer(pointer) == {"path": "data", "md5": "abc.dir"}


def test_each_attributes_fairness_verdict_follows_its_report(pipeline_run: PipelineRun) -> None:
    """The verdict line says pass or FAIL as fairness.json says, attribute by attribute."""
    reports = pipeline_run.reports
    fairness = json.loads((reports / "fairness.json").read_text())
    explanations = json.loads((reports / "explanations.json").read_text())
    metrics = json.loads((reports / "metrics.json").read_text())
    with working_directory(pipeline_run.workdir):
        record = card.card_record(pipeline_run.params, read_manifest(pipeline_run.bundle), metrics)
    first, *others = fairness
    judged = {first: {**fairness[first], "passed": False}}
    judged |= {name: {**fairness[name], "passed": True} for name in others}
    text = card.render_card(pipeline_run.params, record, judged, explanations)
    verdicts = [line for line in text.splitlines() if line.startswith("Within the thresholds")]
    assert verdicts == [
        "Within the thresholds: **FAIL**.",
        *["Within the thresholds: pass."] * len(others),
    ]


def test_the_card_names_the_gpu_a_model_was_trained_on() -> None:
    assert device_label({"device": "cuda", "accelerator": "NVIDIA H200"}) == "cuda (NVIDIA H200)"
    assert device_label({"device": "cpu", "accelerator": None}) == "cpu"
    assert device_label({"device": "cpu"}) == "cpu"  # a record written before the GPU was kept
