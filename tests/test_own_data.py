"""Bring your own data: a different tabular CSV (header row, another separator, other columns,
labels and sensitive attribute) runs through every stage with only a new dataset spec, as a train
and a test file or as one table whose test split is held out (seeded, stratified), and serves."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from conftest import ROOT, run_pipeline, working_directory
from greenlight.artifacts import load_bundle
from greenlight.config import load_params
from greenlight.serving.schema import request_schema
from greenlight.stages import featurize
from tools.harness.server import RunningServer


def churn_table(rows: int = 1200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(50.0, 15.0, rows).round(2)
    plan = rng.choice(["basic", "plus", "pro"], rows)
    region = rng.choice(["north", "south"], rows)
    score = income / 10 + (plan == "pro") * 2 + rng.normal(0, 1, rows)
    frame = pd.DataFrame({
        "income_k": income, "plan": plan, "region": region,
        "tenure": rng.integers(0, 40, rows), "churn": np.where(score > 6.5, "yes", "no"),
    })  # fmt: skip
    frame.loc[frame.sample(frac=0.05, random_state=seed).index, "plan"] = "NA"
    return frame


def write_files(folder: Path) -> None:
    frame = churn_table()
    folder.mkdir(parents=True)
    frame.iloc[:900].to_csv(folder / "train.csv", sep=";", index=False)
    frame.iloc[900:].to_csv(folder / "test.csv", sep=";", index=False)


def write_one_table(folder: Path) -> pd.DataFrame:
    frame = churn_table()
    folder.mkdir(parents=True)
    frame.to_csv(folder / "all.csv", sep=";", index=False)
    return frame


def own_config(
    folder: Path, splits: tuple[str, ...] = ("train", "test"), **featurize: float
) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["dataset"] = {
        "name": "churn", "separator": ";", "header": True, "missing_token": "NA",
        "files": {split: {"path": str(folder / f"{split}.csv")} for split in splits},
        "target": {"column": "churn", "positive": "yes", "negative": "no"},
        "sensitive": ["region"], "schema": "schema.yaml",
    }  # fmt: skip
    params["featurize"].update(featurize)
    params["train"]["hgb"]["max_iter"] = 50
    params["evaluate"]["importance"].update(n_repeats=1, sample=200)
    schema = {"columns": {
        "income_k": {"type": "float", "min": -100, "max": 200},
        "plan": {"type": "category", "values": ["basic", "plus", "pro"], "nullable": True},
        "region": {"type": "category", "values": ["north", "south"]},
        "tenure": {"type": "int", "min": 0, "max": 100},
        "churn": {"type": "category", "values": ["no", "yes"]},
    }}  # fmt: skip
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    (folder / "schema.yaml").write_text(yaml.safe_dump(schema))
    return folder / "params.yaml"


def test_another_dataset_needs_only_params_and_schema(tmp_path: Path) -> None:
    write_files(tmp_path / "data")
    params = load_params(own_config(tmp_path / "data"))
    run = run_pipeline(tmp_path, params)
    metrics = json.loads((run.reports / "metrics.json").read_text())
    assert metrics["n_test"] == 300
    assert metrics["roc_auc"] > 0.8
    fairness = json.loads((run.reports / "fairness.json").read_text())
    assert list(fairness) == ["region"]
    assert set(fairness["region"]["groups"]) == {"north", "south"}
    manifest = json.loads((run.bundle / "manifest.json").read_text())
    assert manifest["features"] == ["income_k", "plan", "tenure"]
    assert "# Model card: churn" in (run.reports / "model_card.md").read_text()
    assert_service_contract_follows(run.bundle)


def assert_service_contract_follows(bundle_dir: Path) -> None:
    """The service's request model comes from the same spec: the new columns, no code change."""
    bundle = load_bundle(bundle_dir)
    schema = request_schema(bundle.spec, bundle.features, max_batch=10)
    record = {"income_k": 61.5, "plan": None, "tenure": 3}
    [parsed] = schema.request.model_validate({"records": [record]}).records
    assert bundle.predict_proba(pd.DataFrame([schema.as_dict(parsed)])).shape == (1,)
    with pytest.raises(ValidationError, match="plan"):
        schema.request.model_validate({"records": [record | {"plan": "gold"}]})


@pytest.mark.slow
def test_one_table_gets_a_seeded_stratified_test_split_runs_every_stage_and_serves(
    tmp_path: Path,
) -> None:
    table = write_one_table(tmp_path / "data")
    params = load_params(own_config(tmp_path / "data", ("all",), test_size=0.25))
    run = run_pipeline(tmp_path, params)
    metrics = json.loads((run.reports / "metrics.json").read_text())
    assert metrics["n_test"] == 300 and metrics["roc_auc"] > 0.8
    test = pd.read_parquet(run.split / "test.parquet")
    overall, held_out = (table["churn"] == "yes").mean(), (test["churn"] == "yes").mean()
    assert abs(held_out - overall) <= 1 / 300  # stratified: the class balance of the table
    assert len(pd.read_parquet(run.split / "train.parquet")) == 720  # 900, less 20% for valid
    before = (run.split / "test.parquet").read_bytes()
    with working_directory(tmp_path):
        featurize.run(params)  # seeded: the same split again, byte for byte
    assert (run.split / "test.parquet").read_bytes() == before
    assert "# Model card: churn" in (run.reports / "model_card.md").read_text()
    assert_served(run.bundle, tmp_path / "logs" / "predictions.jsonl")


def assert_served(bundle_dir: Path, log: Path) -> None:
    """`greenlight serve` of the bundle answers a record with the bundle's version."""
    bundle = load_bundle(bundle_dir)
    record = {"income_k": 61.5, "plan": "pro", "tenure": 3}
    with RunningServer.start(bundle_dir, log) as server:
        response = httpx.post(f"{server.base_url}/predict", json={"records": [record]}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == bundle.version
    expected = bundle.predict_proba(pd.DataFrame([record]))[0]
    assert body["predictions"][0]["probability"] == pytest.approx(expected, abs=1e-4)
