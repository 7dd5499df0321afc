"""Why the model gave a record its probability: each model feature's signed contribution, in
log-odds, summing with a base value to the model's log-odds for that record, so
probability = 1 / (1 + exp(-(base_value + sum of contributions))).

- hgb: SHAP's TreeExplainer (path-dependent TreeSHAP: the trees' exact Shapley values; the base
  value is the training-weighted mean log-odds; no background data needed).
- logreg: exact linear contributions coef * (x - reference); the base value is the reference's
  log-odds (for a linear model these are its Shapley values).
- mlp, or any other estimator: exact Shapley values of the model features against the reference,
  one model call per coalition of features (2 ** features); above `max_coalitions`, antithetic
  permutation sampling, whose values still sum exactly.

The reference is the mean encoded training record the train stage stores in the manifest (an
aggregate: no individual record travels with the bundle). A category's one-hot columns add up to
one value for its feature, so every value names a model input; sensitive attributes, when they are
features (`featurize.use_sensitive`), add up to one column that names none of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import factorial
from typing import Any

import numpy as np
import pandas as pd

from greenlight.artifacts import Bundle
from greenlight.errors import GreenlightError
from greenlight.features import encoded_columns, to_model_frame, transform

UNITS = "log-odds"
SENSITIVE = "sensitive attributes (combined)"
MAX_COALITIONS = 4096  # exact Shapley values up to 12 features
CHUNK_ROWS = 1 << 16  # model inputs per call of the model-agnostic explainer

Method = Callable[[np.ndarray], np.ndarray]  # encoded rows -> contributions per model feature


class ExplainError(GreenlightError, ValueError):
    """The bundle cannot be explained as it is (e.g. it predates the explanation reference)."""


@dataclass(frozen=True)
class Contributions:
    base_value: float
    values: pd.DataFrame  # one row per record (the input's index), one column per named feature

    def logit(self) -> np.ndarray:
        """base value + contributions: the model's log-odds for each record."""
        return self.base_value + self.values.to_numpy().sum(axis=1)


class Explainer:
    """Built once per bundle (SHAP converts the trees in ~0.1 s), then explains any records."""

    def __init__(self, bundle: Bundle, max_coalitions: int = MAX_COALITIONS) -> None:
        self.bundle = bundle
        self.names, self._naming = _naming(bundle.features, set(bundle.spec.sensitive))
        self.base_value, self._method = _method(bundle, max_coalitions)

    def explain_encoded(self, x: np.ndarray) -> np.ndarray:
        """Contributions (rows of `x` by `self.names`) for rows the preprocessor encoded."""
        return self._method(np.atleast_2d(x)) @ self._naming

    def explain(self, records: pd.DataFrame) -> Contributions:
        """Raw records (columns as in the dataset spec) -> their contributions."""
        frame = to_model_frame(records, self.bundle.spec, self.bundle.features)
        values = self.explain_encoded(transform(self.bundle.preprocessor, frame))
        table = pd.DataFrame(values, index=records.index, columns=self.names)
        return Contributions(self.base_value, table)


def contributions(bundle: Bundle, records: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    """(base value, one row of contributions per record), in log-odds."""
    explained = Explainer(bundle).explain(records)
    return explained.base_value, explained.values


def summarize(
    base_value: float, values: np.ndarray, names: Sequence[str], top: int
) -> dict[str, Any]:
    """One record's explanation for a response: the `top` largest contributions by size, and the
    rest as one number, so base_value + sum(top) + rest is still the record's log-odds."""
    order = np.argsort(-np.abs(values), kind="stable")[:top]
    shown = [{"feature": names[i], "contribution": float(values[i])} for i in order]
    rest = float(values.sum() - values[order].sum())
    return {"units": UNITS, "base_value": base_value, "top": shown, "rest": rest}


def _naming(features: Sequence[str], sensitive: set[str]) -> tuple[list[str], np.ndarray]:
    """The output columns, and the matrix that sums model features into them."""
    names = [name for name in features if name not in sensitive]
    if len(names) < len(features):
        names.append(SENSITIVE)
    naming = np.zeros((len(features), len(names)))
    for row, feature in enumerate(features):
        naming[row, names.index(SENSITIVE if feature in sensitive else feature)] = 1.0
    return names, naming


def feature_grouping(bundle: Bundle) -> np.ndarray:
    """(encoded columns, model features): 1 where a column belongs to a feature."""
    columns = encoded_columns(bundle.preprocessor)
    width = sum(len(indexes) for indexes in columns.values())
    grouping = np.zeros((width, len(bundle.features)))
    for position, feature in enumerate(bundle.features):
        grouping[columns[feature], position] = 1.0
    return grouping


def _method(bundle: Bundle, max_coalitions: int) -> tuple[float, Method]:
    kind = bundle.manifest["model"]["kind"]
    grouping = feature_grouping(bundle)
    if kind == "hgb":
        return _tree(bundle.estimator.model, grouping)
    reference = _reference(bundle, grouping.shape[0])
    if kind == "logreg":
        return _linear(bundle.estimator.model, reference, grouping)
    shapley = CoalitionShapley(len(bundle.features), max_coalitions)
    return shapley.method(bundle.estimator.predict_logit, reference, grouping)


def _reference(bundle: Bundle, width: int) -> np.ndarray:
    reference = bundle.manifest.get("explain_reference")
    if reference is None:
        raise ExplainError(
            f"model {bundle.version} has no explain_reference in its manifest: it was trained "
            "before explanations existed; retrain it (dvc repro train)"
        )
    if len(reference) != width:
        raise ExplainError(f"explain_reference has {len(reference)} values, the encoder {width}")
    return np.asarray(reference, dtype=np.float64)


def _tree(model: Any, grouping: np.ndarray) -> tuple[float, Method]:
    import shap  # noqa: PLC0415 (slow to import: only where a tree model is explained)

    explainer = shap.TreeExplainer(model)
    base_value = float(np.ravel(explainer.expected_value)[0])

    def method(x: np.ndarray) -> np.ndarray:
        values = np.asarray(explainer.shap_values(x.astype(np.float64), check_additivity=False))
        if values.shape != x.shape:
            raise ExplainError(f"TreeExplainer answered shape {values.shape} for {x.shape}")
        return values @ grouping

    return base_value, method


def _linear(model: Any, reference: np.ndarray, grouping: np.ndarray) -> tuple[float, Method]:
    coef = np.asarray(model.coef_, dtype=np.float64).ravel()
    base_value = float(model.intercept_[0] + coef @ reference)
    return base_value, lambda x: ((x.astype(np.float64) - reference) * coef) @ grouping


class CoalitionShapley:
    """Shapley values of `features` players as a linear map of the model's values on coalitions:
    phi = values(coalitions) @ weights. Exact (every coalition, Shapley weights) when 2**features
    fits in `max_coalitions`; otherwise antithetic pairs of seeded permutations. In both, each
    record's values sum to f(record) - f(reference)."""

    def __init__(self, features: int, max_coalitions: int = MAX_COALITIONS, seed: int = 0) -> None:
        if 2**features <= max_coalitions:
            self.coalitions, self.weights = _exact(features)
        else:
            self.coalitions, self.weights = _permutations(features, max_coalitions, seed)

    def method(
        self, logit: Callable[[np.ndarray], np.ndarray], reference: np.ndarray, grouping: np.ndarray
    ) -> tuple[float, Method]:
        present = (self.coalitions.astype(np.float64) @ grouping.T) > 0  # coalitions x columns
        base_value = float(logit(reference[None, :].astype(np.float32))[0])

        def method(x: np.ndarray) -> np.ndarray:
            step = max(1, CHUNK_ROWS // len(present))
            chunks = (x[start : start + step] for start in range(0, len(x), step))
            return np.concatenate(
                [self._chunk(logit, chunk, present, reference) for chunk in chunks]
            )

        return base_value, method

    def _chunk(
        self, logit: Callable, x: np.ndarray, present: np.ndarray, reference: np.ndarray
    ) -> np.ndarray:
        mixed = np.where(present[None, :, :], x[:, None, :], reference[None, None, :])
        values = logit(mixed.reshape(-1, x.shape[1]).astype(np.float32))
        return values.reshape(len(x), len(present)) @ self.weights


def _exact(features: int) -> tuple[np.ndarray, np.ndarray]:
    """Every coalition (bit j of k: feature j is in coalition k), and the weights that turn the
    model's values on them into Shapley values: +-|S|!(n-|S|-1)!/n! for S = k without j."""
    ks = np.arange(2**features)
    coalitions = ((ks[:, None] >> np.arange(features)) & 1).astype(bool)
    sizes = coalitions.sum(axis=1)
    sizes_weight = [factorial(size) * factorial(features - 1 - size) for size in range(features)]
    shapley = np.array(sizes_weight) / factorial(features)
    weights = np.zeros((len(ks), features))
    for j in range(features):
        without = ks[~coalitions[:, j]]
        weights[without | (1 << j), j] += shapley[sizes[without]]
        weights[without, j] -= shapley[sizes[without]]
    return coalitions, weights


def _permutations(features: int, budget: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Antithetic pairs of random orders; a feature's value is its mean marginal contribution."""
    rng = np.random.default_rng(seed)
    pairs = max(1, budget // (2 * (features + 1)))
    orders = [order for _ in range(pairs) for order in _pair(rng.permutation(features))]
    coalitions = np.zeros((len(orders) * (features + 1), features), dtype=bool)
    weights = np.zeros((len(coalitions), features))
    for p, order in enumerate(orders):
        start = p * (features + 1)
        for step, j in enumerate(order):
            coalitions[start + step + 1] = coalitions[start + step]
            coalitions[start + step + 1, j] = True
            weights[start + step + 1, j] += 1 / len(orders)
            weights[start + step, j] -= 1 / len(orders)
    return coalitions, weights


def _pair(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return order, order[::-1]
