"""Helpers the split tests of every target share: bundles whose manifest names the dataset (so
the labels and sensitive attributes are known), one-record requests counted by the color that
answered (HAProxy's X-Greenlight-Variant answer header), a prediction log read back, and the
delayed true labels of its lines appended to an outcome log (as `greenlight outcomes import`
does): the age rule, contradicted at random (seeded) in NOISE of the cases."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from deploy_rig import stub_bundle

from greenlight import outcomes
from greenlight.config import load_params
from greenlight.logformat import LoggedPrediction

REPO = Path(__file__).resolve().parents[2]
POSITIVE, NEGATIVE = ">50K", "<=50K"
NOISE = 0.3  # share of outcomes that contradict the age rule: the rule's accuracy is about 0.7
CONSTANT = {"default_probability": 0.2}  # always <=50K: accuracy about 0.5
WORSE = {"age_rule": [50, 0.1, 0.9]}  # the rule upside down: accuracy about 0.3
BETTER = {"age_rule": [50, 0.9, 0.1]}  # the rule: accuracy about 0.7
Headers = Callable[[int], dict[str, str]] | None


def spec_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """`manifest` plus what the figures read of it: the dataset (labels, sensitive attributes)."""
    dataset = load_params(REPO / "params.yaml").dataset.model_dump(mode="json")
    return {**manifest, "dataset": dataset, "features": ["age", "workclass", "hours_per_week"]}


def spec_bundle(root: Path, version: str, faults: dict[str, Any]) -> Path:
    """A stub bundle whose manifest also names the dataset."""
    path = stub_bundle(root, version, **faults)
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps(spec_manifest(manifest)))
    return path


def record(age: int) -> dict[str, Any]:
    return {"age": age, "workclass": "Private", "hours_per_week": 40}


def send(url: str, count: int, headers: Headers = None, seed: int = 0) -> Counter[str]:
    """`count` one-record requests (ages 20-79), each with the headers `headers(n)` gives; how
    many each color answered, by the X-Greenlight-Variant header HAProxy adds."""
    ages = np.random.default_rng(seed)
    served: Counter[str] = Counter()
    with httpx.Client(timeout=10) as client:
        for n in range(count):
            body = {"records": [record(int(ages.integers(20, 80)))]}
            response = client.post(url, json=body, headers=headers(n) if headers else None)
            response.raise_for_status()
            served[response.headers["X-Greenlight-Variant"]] += 1
    return served


def logged_at(path: Path) -> list[LoggedPrediction]:
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    return [LoggedPrediction.parse(line, f"{path}:{n}") for n, line in enumerate(lines, 1)]


def numbered(items: list[LoggedPrediction]) -> list[tuple[outcomes.Key, LoggedPrediction]]:
    """Each line with its key: request id and position within its request (a batch shares one)."""
    seen: Counter[str] = Counter()
    keyed = []
    for item in items:
        keyed.append(((item.request_id, seen[item.request_id]), item))
        seen[item.request_id] += 1
    return keyed


def label_log(predictions: Path, log: Path, noise: np.random.Generator) -> int:
    """The true label of every line of `predictions` not labelled in `log` yet, appended there."""
    known = {item.key for item in outcomes.read_outcome_log(log, (POSITIVE, NEGATIVE))}
    fresh = [(key, item) for key, item in numbered(logged_at(predictions)) if key not in known]
    labelled = [_outcome(key, item, noise.random() < NOISE) for key, item in fresh]
    outcomes.append_outcomes(log, labelled, datetime.now(UTC))
    return len(labelled)


def _outcome(key: outcomes.Key, item: LoggedPrediction, flipped: bool) -> outcomes.Outcome:
    rule = item.features["age"] >= 50
    return outcomes.Outcome(*key, POSITIVE if rule != flipped else NEGATIVE, "test")
