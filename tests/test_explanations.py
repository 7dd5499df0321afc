"""Explanations: every model kind's contributions add up, with the base value, to the model's
log-odds on real records (hgb within 1e-6), the model-agnostic Shapley values are the textbook
ones, and no explanation names a sensitive attribute."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import PipelineRun
from greenlight.artifacts import Bundle, load_bundle
from greenlight.config import Params
from greenlight.explain import (
    SENSITIVE,
    CoalitionShapley,
    Explainer,
    ExplainError,
    contributions,
    feature_grouping,
    summarize,
)
from greenlight.features import encoded_columns, to_model_frame, transform
from greenlight.stages import featurize, train


def logit(probability: np.ndarray) -> np.ndarray:
    return np.log(probability / (1 - probability))


@pytest.fixture(scope="module")
def test_split(pipeline_run: PipelineRun) -> pd.DataFrame:
    return pd.read_parquet(pipeline_run.split / "test.parquet")


def retrained(run: PipelineRun, folder: Path, **train_changes: object) -> Bundle:
    """The sample's split and preprocessor, another model kind (or params) trained on them."""
    params = run.params.model_copy(
        update={"train": run.params.train.model_copy(update={"device": "cpu", **train_changes})}
    )
    train.run(params, run.split, run.workdir / "artifacts" / "preprocessor.skops", folder)
    return load_bundle(folder)


def test_hgb_contributions_sum_to_its_log_odds_within_1e_6(
    pipeline_run: PipelineRun, test_split: pd.DataFrame
) -> None:
    bundle = load_bundle(pipeline_run.bundle)
    base_value, values = contributions(bundle, test_split)
    assert list(values.columns) == bundle.features
    assert len(values) == len(test_split) == 1000
    total = base_value + values.to_numpy().sum(axis=1)
    np.testing.assert_allclose(total, logit(bundle.predict_proba(test_split)), rtol=0, atol=1e-6)
    assert values.abs().to_numpy().max() > 0.1  # not a vacuous sum of zeros


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_logreg_and_mlp_contributions_sum_to_their_log_odds(
    kind: str, pipeline_run: PipelineRun, test_split: pd.DataFrame, tmp_path: Path
) -> None:
    bundle = retrained(pipeline_run, tmp_path / "bundle", model=kind)
    records = test_split.head(40)
    explained = Explainer(bundle).explain(records)
    x = transform(bundle.preprocessor, to_model_frame(records, bundle.spec, bundle.features))
    np.testing.assert_allclose(explained.logit(), bundle.estimator.predict_logit(x), atol=1e-5)
    assert list(explained.values.columns) == bundle.features


def test_linear_contributions_are_the_exact_shapley_values(
    pipeline_run: PipelineRun, test_split: pd.DataFrame, tmp_path: Path
) -> None:
    bundle = retrained(pipeline_run, tmp_path / "bundle", model="logreg")
    x = transform(
        bundle.preprocessor, to_model_frame(test_split.head(10), bundle.spec, bundle.features)
    )
    linear = Explainer(bundle).explain_encoded(x)
    reference = np.asarray(bundle.manifest["explain_reference"])
    _, shapley = CoalitionShapley(len(bundle.features)).method(
        bundle.estimator.predict_logit, reference, feature_grouping(bundle)
    )
    np.testing.assert_allclose(shapley(x), linear, atol=1e-5)


def identity_game(function, reference: np.ndarray, budget: int = 4096):
    """CoalitionShapley over plain columns (one column per player)."""
    players = len(reference)
    return CoalitionShapley(players, budget).method(function, reference, np.eye(players))


def test_exact_shapley_values_of_a_game_with_an_interaction() -> None:
    """f = x0 * x1 + 2 * x2 from the origin: x0 and x1 share their product, x2 takes its term."""
    base, method = identity_game(lambda z: z[:, 0] * z[:, 1] + 2 * z[:, 2], np.zeros(3))
    values = method(np.array([[1.0, 1.0, 1.0], [2.0, 3.0, -1.0]]))
    np.testing.assert_allclose(values, [[0.5, 0.5, 2.0], [3.0, 3.0, -2.0]], atol=1e-6)
    assert base == 0.0


def test_sampled_permutations_still_sum_exactly_and_are_exact_for_additive_models() -> None:
    rng = np.random.default_rng(0)
    x, reference = rng.normal(size=(5, 14)), np.zeros(14)  # 2**14 > the budget: sampled

    def interacting(z):
        return np.tanh(z[:, 0] * z[:, 1]) + z[:, 2:].sum(axis=1) ** 2 / 10

    base, method = identity_game(interacting, reference, budget=600)
    np.testing.assert_allclose(method(x).sum(axis=1) + base, interacting(x), atol=1e-4)
    weights = np.arange(14.0)
    _, additive = identity_game(lambda z: z @ weights, reference, budget=600)
    np.testing.assert_allclose(additive(x), x * weights, atol=1e-4)


def test_summary_keeps_the_sum_with_the_rest(pipeline_run: PipelineRun, test_split) -> None:
    bundle = load_bundle(pipeline_run.bundle)
    explainer = Explainer(bundle)
    row = explainer.explain(test_split.head(1)).values.iloc[0].to_numpy()
    summary = summarize(explainer.base_value, row, explainer.names, top=3)
    assert [entry["feature"] for entry in summary["top"]] == [
        explainer.names[i] for i in np.argsort(-np.abs(row))[:3]
    ]
    shown = sum(entry["contribution"] for entry in summary["top"])
    assert summary["base_value"] + shown + summary["rest"] == pytest.approx(
        explainer.base_value + row.sum(), abs=1e-12
    )
    assert summary["units"] == "log-odds"


def test_sensitive_features_are_never_named(
    pipeline_run: PipelineRun, test_split: pd.DataFrame, tmp_path: Path
) -> None:
    """With `featurize.use_sensitive`, sex and race are model inputs: their contributions are
    summed into one column that names neither, and the sum still holds."""
    params: Params = pipeline_run.params
    sensitive = params.model_copy(
        update={"featurize": params.featurize.model_copy(update={"use_sensitive": True})}
    )
    validated = pipeline_run.workdir / "artifacts" / "validated"
    featurize.run(sensitive, validated, tmp_path / "split", tmp_path / "pre.skops")
    train.run(sensitive, tmp_path / "split", tmp_path / "pre.skops", tmp_path / "bundle")
    bundle = load_bundle(tmp_path / "bundle")
    assert {"sex", "race"} <= set(bundle.features)
    explained = Explainer(bundle).explain(test_split.head(100))
    assert not {"sex", "race"} & set(explained.values.columns)
    assert explained.values.columns[-1] == SENSITIVE
    np.testing.assert_allclose(
        explained.logit(), logit(bundle.predict_proba(test_split.head(100))), atol=1e-6
    )


def test_a_bundle_without_a_reference_says_to_retrain(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    bundle = retrained(pipeline_run, tmp_path / "bundle", model="logreg")
    manifest = {key: value for key, value in bundle.manifest.items() if key != "explain_reference"}
    old = Bundle(manifest=manifest, preprocessor=bundle.preprocessor, estimator=bundle.estimator)
    with pytest.raises(ExplainError, match=r"no explain_reference.*retrain"):
        Explainer(old)


def test_the_bundle_carries_an_aggregate_reference_not_a_record(pipeline_run: PipelineRun) -> None:
    bundle = load_bundle(pipeline_run.bundle)
    reference = np.asarray(bundle.manifest["explain_reference"])
    train_split = pd.read_parquet(pipeline_run.split / "train.parquet")
    x = transform(bundle.preprocessor, to_model_frame(train_split, bundle.spec, bundle.features))
    np.testing.assert_allclose(reference, x.astype(np.float64).mean(axis=0), atol=1e-9)
    workclass = reference[encoded_columns(bundle.preprocessor)["workclass"]]
    assert workclass.sum() == pytest.approx(1.0)
    assert (workclass > 0).sum() > 1  # each level's share of the split, not one record's level
