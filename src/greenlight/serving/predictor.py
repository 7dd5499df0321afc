"""From validated records to labelled predictions, through the bundle's preprocessing and model.
A fresh Predictor proves itself before serving: its encoder must match the fitted preprocessor,
and it must reproduce the known answers recorded at training time."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from greenlight.artifacts import Bundle
from greenlight.errors import ArtifactError
from greenlight.known_answers import compare
from greenlight.serving.encoder import RowEncoder, compile_encoder, matches_preprocessor
from greenlight.serving.outputs import ModelOutputError

logger = logging.getLogger(__name__)


def check_probabilities(probabilities: np.ndarray, version: str) -> None:
    """Raise ModelOutputError unless every value is a finite probability. The message names the
    model version and the first bad record's index and output, never an input value."""
    valid = np.isfinite(probabilities) & (probabilities >= 0.0) & (probabilities <= 1.0)
    bad = np.flatnonzero(~valid)
    if bad.size:
        first = int(bad[0])
        raise ModelOutputError(
            f"model {version} answered {probabilities[first]!r} for record {first} of "
            f"{probabilities.size}, not a probability in [0, 1] ({bad.size} such records)"
        )


@dataclass(frozen=True)
class Predictor:
    bundle: Bundle
    encoder: RowEncoder | None  # None: every batch goes through the fitted preprocessor

    @classmethod
    def for_bundle(cls, bundle: Bundle) -> Predictor:
        encoder = compile_encoder(bundle.preprocessor)
        if encoder is not None and not matches_preprocessor(
            encoder, bundle.preprocessor, bundle.spec, bundle.features
        ):
            logger.warning("fast encoder differs from the preprocessor; using the preprocessor")
            encoder = None
        if encoder is None:
            logger.info("serving through the fitted preprocessor (no fast encoder for it)")
        return cls(bundle, encoder)

    def probabilities(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """Positive-class probability per record (a dict of input columns, validated); raises
        ModelOutputError when the model answers anything else."""
        if self.encoder is None:
            values = self.bundle.predict_proba(pd.DataFrame(list(rows)))
        else:
            values = self.bundle.estimator.predict_proba(self.encoder.encode(rows))
        check_probabilities(np.asarray(values, dtype=np.float64), self.bundle.version)
        return values

    def labels(self, probabilities: Sequence[float]) -> list[str]:
        """The positive label where the probability reaches the bundle's threshold."""
        target, threshold = self.bundle.spec.target, self.bundle.threshold
        return [
            target.positive if probability >= threshold else target.negative
            for probability in probabilities
        ]


def check_known_answers(predictor: Predictor, tolerance: float) -> int:
    """Predict every known-answer record of the manifest; raise ArtifactError when one is further
    than `tolerance` from its recorded probability. Returns how many were checked (the warm-up
    that readiness waits for)."""
    answers = predictor.bundle.manifest.get("known_answers") or []
    if not answers:
        raise ArtifactError("the bundle manifest has no known_answers to warm up with")
    expected = [float(answer["probability"]) for answer in answers]
    actual = predictor.probabilities([answer["record"] for answer in answers]).tolist()
    wrong = compare(actual, expected, tolerance).wrong
    if wrong:
        first = wrong[0]
        raise ArtifactError(
            f"known answer {first}: probability {actual[first]:.6f} differs from the "
            f"{expected[first]:.6f} recorded at training by more than {tolerance:g} "
            f"({len(wrong)} of {len(answers)} differ)"
        )
    return len(answers)
