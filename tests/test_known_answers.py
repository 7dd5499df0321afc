"""One known-answer check: the service's warm-up and the deploy smoke test judge through
greenlight.known_answers with the one tolerance serving.known_answer_tolerance, so they cannot
disagree about a served probability."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from greenlight.deploy import commands
from greenlight.deploy.controller import Controller
from greenlight.deploy.settings import parse_settings
from greenlight.deploy.smoke import judge_answers
from greenlight.errors import ArtifactError, ConfigError
from greenlight.known_answers import DEFAULT_TOLERANCE, compare
from greenlight.serving.predictor import check_known_answers
from greenlight.serving.settings import ServingSettings
from greenlight.settings import resolve_serving
from greenlight.settings_base import read_yaml

PARAMS = Path(__file__).parents[1] / "params.yaml"
RECORDED = [0.1, 0.5, 0.9]


def _warm_up_passes(served: list[float], tolerance: float) -> bool:
    answers = [{"record": {"i": i}, "probability": p} for i, p in enumerate(RECORDED)]
    predictor = SimpleNamespace(
        bundle=SimpleNamespace(manifest={"known_answers": answers}),
        probabilities=lambda records: np.array(served[: len(records)], dtype=np.float64),
    )
    try:
        check_known_answers(predictor, tolerance)  # type: ignore[arg-type]
    except ArtifactError:
        return False
    return True


def _smoke_passes(served: list[float], tolerance: float) -> bool:
    body: dict[str, Any] = {
        "model_version": "v1",
        "predictions": [{"probability": p} for p in served],
    }
    return judge_answers(body, "v1", RECORDED, tolerance).passed


@pytest.mark.parametrize("offset", [0.0, 5e-6, 1e-5, 1.1e-5, 2e-5, 5e-5, 1e-4, 1e-3, math.nan])
def test_the_warm_up_and_the_smoke_test_give_the_same_verdict(offset: float) -> None:
    tolerance = ServingSettings().known_answer_tolerance
    served = [RECORDED[0], RECORDED[1] + offset, RECORDED[2]]
    expected = not offset > tolerance and not math.isnan(offset)
    assert _warm_up_passes(served, tolerance) is expected
    assert _smoke_passes(served, tolerance) is expected


def test_the_deploy_smoke_test_judges_with_the_services_tolerance(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("serving: {known_answer_tolerance: 0.00003}\n")
    controller = commands._controller(SimpleNamespace(), params)  # type: ignore[arg-type]
    assert (
        controller.known_answer_tolerance == resolve_serving(params).known_answer_tolerance == 3e-5
    )


def test_one_default_and_one_key() -> None:
    served = read_yaml(PARAMS)
    assert served["serving"]["known_answer_tolerance"] == DEFAULT_TOLERANCE
    assert "tolerance" not in served["deploy"]["smoke"]
    assert Controller.__dataclass_fields__["known_answer_tolerance"].default == DEFAULT_TOLERANCE
    assert ServingSettings().known_answer_tolerance == DEFAULT_TOLERANCE


def test_the_old_deploy_key_and_a_bad_tolerance_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"deploy\.smoke\.tolerance"):
        parse_settings({"smoke": {"tolerance": 1e-4}})
    params = tmp_path / "params.yaml"
    params.write_text("serving: {known_answer_tolerance: -1}\n")
    with pytest.raises(ConfigError, match=rf"{tmp_path}.*known_answer_tolerance"):
        resolve_serving(params, environ={})


def test_what_is_not_a_number_is_infinitely_far() -> None:
    comparison = compare([0.1, "n/a", None, True, math.nan], [0.1] * 5, 1e-5)
    assert comparison.wrong == [1, 2, 3, 4] and comparison.worst == math.inf
