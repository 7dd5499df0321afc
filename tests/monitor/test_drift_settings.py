from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from greenlight.errors import ConfigError
from greenlight.monitor.settings import DriftParams, Window
from greenlight.settings import load_settings

NOW = datetime(2025, 3, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def drift_of(folder: Path, drift: object) -> DriftParams:
    """The drift section of a params file that holds only `drift` (None: no drift section)."""
    path = folder / "params.yaml"
    path.write_text(json.dumps({} if drift is None else {"drift": drift}))  # JSON is YAML
    return load_settings(path, with_dataset=False).drift


def test_the_repository_params_have_a_valid_drift_section():
    settings = load_settings(ROOT / "params.yaml").drift
    assert settings.window.days == 7
    assert settings.max_rows == 50_000
    assert 0 < settings.p_value < 1


def test_defaults_apply_when_params_have_no_drift_section(tmp_path: Path):
    assert drift_of(tmp_path, None) == DriftParams()


@pytest.mark.parametrize(
    ("drift", "key"),
    [
        ({"window": {"days": 0}}, r"drift\.window\.days: Input should be greater"),
        ({"p_value": 1.5}, r"drift\.p_value: Input should be less"),
        ({"windw": {"days": 1}}, r"drift\.windw: Extra inputs are not permitted"),
    ],
    ids=str,
)
def test_a_bad_value_is_reported_with_its_dotted_key(tmp_path: Path, drift: object, key: str):
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'params.yaml'}: {key}"):
        drift_of(tmp_path, drift)


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
