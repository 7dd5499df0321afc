"""Stage 6: global explanations. Each model feature's mean absolute contribution (log-odds, see
greenlight/explain.py) on a seeded sample of the test split, overall and per group of every
sensitive attribute: a feature that drives predictions differently for two groups is what a
fairness review looks for. Groups with fewer sampled records than `fairness.min_group_count` are
listed with their count only. Writes reports/explanations.json (committed) and
reports/explain/contributions.png, the same bytes on every run. Also the cost of an explanation,
one record explained vs predicted: reports/latency.json, like reports/provenance.json written
where the stage ran and no DVC output (timings differ from run to run)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from greenlight import plots
from greenlight.artifacts import load_bundle
from greenlight.config import Params
from greenlight.explain import UNITS, Explainer
from greenlight.features import to_model_frame, transform
from greenlight.files import read_json, read_parquet, write_json, write_with
from greenlight.paths import BUNDLE, LATENCY, REPORTS, SPLIT
from greenlight.timing import fastest_ms

METHODS = {"hgb": "TreeSHAP (shap {shap})", "logreg": "exact linear contributions"}
OTHER_METHOD = "Shapley values against the mean training record"


def mean_abs(values: pd.DataFrame) -> dict[str, float]:
    """Mean absolute contribution per feature, largest first."""
    means = values.abs().mean().sort_values(ascending=False, kind="stable")
    return {str(name): round(float(value), 6) for name, value in means.items()}


def by_group(values: pd.DataFrame, groups: pd.Series, minimum: int) -> dict[str, dict[str, Any]]:
    """Per group: its count and mean |contribution| per feature, or its count and too_small."""
    result: dict[str, dict[str, Any]] = {}
    for group, rows in values.groupby(groups.to_numpy(), sort=True):
        entry: dict[str, Any] = {"count": len(rows)}
        if len(rows) < minimum:
            entry["too_small"] = True
        else:
            entry["mean_abs"] = mean_abs(rows)
        result[str(group)] = entry
    return result


def latency(explainer: Explainer, row: np.ndarray) -> dict[str, float]:
    """One encoded record: predicted, and predicted and explained (what an explained answer costs
    on top of an unexplained one; the encoding before both is the same)."""
    estimator = explainer.bundle.estimator
    predict = fastest_ms(lambda: estimator.predict_proba(row))
    both = fastest_ms(lambda: (estimator.predict_proba(row), explainer.explain_encoded(row)))
    return {
        "predict_one": predict,
        "predict_and_explain_one": both,
        "ratio": round(both / predict, 3),
    }


def sample(test: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """A seeded sample in the split's order (all of it when the split is smaller)."""
    if len(test) <= size:
        return test.reset_index(drop=True)
    rows = np.sort(np.random.default_rng(seed).choice(len(test), size=size, replace=False))
    return test.iloc[rows].reset_index(drop=True)


def method_name(kind: str) -> str:
    template = METHODS.get(kind, OTHER_METHOD)
    return template.format(shap=metadata.version("shap")) if "{shap}" in template else template


def summarize(explainer: Explainer, records: pd.DataFrame, params: Params) -> dict[str, Any]:
    bundle, explained = explainer.bundle, explainer.explain(records)
    minimum = params.fairness.min_group_count
    groups = {
        name: by_group(explained.values, records[name].astype(str), minimum)
        for name in params.dataset.sensitive
    }
    return {
        "units": UNITS,
        "method": method_name(bundle.manifest["model"]["kind"]),
        "base_value": round(explained.base_value, 6),
        "records": len(records),
        "overall": mean_abs(explained.values),
        "groups": groups,
    }


def latency_record(explainer: Explainer, records: pd.DataFrame) -> dict[str, Any]:
    """The timing of the first record, for the model it was measured on."""
    bundle = explainer.bundle
    first = to_model_frame(records.head(1), bundle.spec, bundle.features)
    timed = latency(explainer, transform(bundle.preprocessor, first))
    return {"model_version": bundle.manifest["model_version"], "latency_ms": timed}


def run(params: Params) -> dict[str, Any]:
    test = read_parquet(SPLIT / "test.parquet")
    records = sample(test, params.explain.sample, params.explain.seed)
    bundle = load_bundle(BUNDLE)
    explainer = Explainer(bundle, max_coalitions=params.explain.max_coalitions)
    result = summarize(explainer, records, params)
    write_json(REPORTS / "explanations.json", result)
    write_json(LATENCY, latency_record(explainer, records))
    title, label = "What drives predictions", f"mean |contribution| ({UNITS})"
    figure = REPORTS / "explain" / "contributions.png"
    write_with(figure, lambda path: plots.bars(result["overall"], label, title, path))
    return result


def main(params: Params) -> dict[str, Any]:
    """What was explained, its overall ranking (per group: reports/explanations.json) and what
    one explanation costs here (reports/latency.json)."""
    result = run(params)
    summary = {key: result[key] for key in ("units", "method", "records", "overall")}
    return summary | {"latency_ms": read_json(LATENCY)["latency_ms"]}
