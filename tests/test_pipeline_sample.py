"""The whole pipeline, stage by stage, on the small Adult sample (shared session fixture)."""

from __future__ import annotations

import json

from conftest import PipelineRun


def test_every_stage_writes_its_outputs(pipeline_run: PipelineRun) -> None:
    reports = pipeline_run.reports
    for name in ("metrics.json", "fairness.json", "importance.json", "provenance.json"):
        assert (reports / name).is_file(), name
    assert (reports / "model_card.md").read_text().startswith("# Model card: adult")
    for figure in ("roc", "precision_recall", "calibration", "confusion", "importance"):
        assert (reports / "figures" / f"{figure}.png").stat().st_size > 1000
    metrics = json.loads((reports / "metrics.json").read_text())
    assert {"accuracy", "roc_auc", "f1", "log_loss"} <= metrics.keys()
    assert 0.75 < metrics["accuracy"] < 0.95
