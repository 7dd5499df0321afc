from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from greenlight.config import Params
from greenlight.errors import ConfigError
from greenlight.monitor.settings import DriftParams, Window, drift_params

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def with_drift(params: Params, section: object) -> Params:
    return Params.model_validate({**params.model_dump(), "drift": section})


def test_the_repository_params_have_a_valid_drift_section():
    from conftest import sample_params

    settings = drift_params(sample_params())
    assert settings.window.days == 7
    assert settings.max_rows == 50_000
    assert 0 < settings.p_value < 1


def test_defaults_apply_when_params_have_no_drift_section(params):
    bare = Params.model_validate(
        {key: value for key, value in params.model_dump().items() if key != "drift"}
    )
    assert drift_params(bare) == DriftParams()


def test_a_bad_value_is_reported_with_its_dotted_key(params):
    with pytest.raises(ConfigError, match=r"drift\.window\.days"):
        drift_params(with_drift(params, {"window": {"days": 0}}))
    with pytest.raises(ConfigError, match=r"drift\.p_value"):
        drift_params(with_drift(params, {"p_value": 1.5}))
    with pytest.raises(ConfigError, match=r"drift\.windw"):
        drift_params(with_drift(params, {"windw": {"days": 1}}))


@pytest.mark.parametrize("window", [{}, {"days": 1, "rows": 10}, {"hours": 2, "days": 1}])
def test_a_window_takes_exactly_one_size(window):
    with pytest.raises(ValidationError, match="exactly one"):
        Window(**window)


def test_window_start_and_description():
    assert Window(hours=6).start(NOW) == NOW - timedelta(hours=6)
    assert Window(days=7).start(NOW) == NOW - timedelta(days=7)
    assert Window(rows=500).start(NOW) is None
    assert Window(days=1).describe() == "the last 1 day"
    assert Window(hours=12).describe() == "the last 12 hours"
    assert Window(rows=5000).describe() == "the newest 5,000 predictions"
