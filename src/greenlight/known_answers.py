"""Known answers: validation records and the probabilities the bundle gave them at training time
(manifest.json `known_answers`, written by the train stage). The service reproduces them in its
warm-up and the deploy smoke test again over HTTP; both judge through `compare`, with the one
tolerance `serving.known_answer_tolerance`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# The same model computed the recorded answers: anything but float noise means the service does not
# run the model the manifest describes. The default of `serving.known_answer_tolerance`.
DEFAULT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Comparison:
    gaps: list[float]  # |served - recorded| per record; infinite where nothing numeric was served
    tolerance: float

    @property
    def wrong(self) -> list[int]:
        """The indices of the records whose gap exceeds the tolerance."""
        return [index for index, gap in enumerate(self.gaps) if gap > self.tolerance]

    @property
    def worst(self) -> float:
        return max(self.gaps, default=0.0)


def compare(served: Sequence[object], recorded: Sequence[float], tolerance: float) -> Comparison:
    """Served probabilities against the recorded ones, record by record (same length)."""
    gaps = [_gap(value, expected) for value, expected in zip(served, recorded, strict=True)]
    return Comparison(gaps, tolerance)


def _gap(served: object, recorded: float) -> float:
    if isinstance(served, bool) or not isinstance(served, int | float) or math.isnan(served):
        return math.inf
    return abs(served - recorded)
