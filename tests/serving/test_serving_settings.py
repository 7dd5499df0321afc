"""Serving settings: defaults < params.yaml < GREENLIGHT_* < command-line options."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenlight.errors import ConfigError
from greenlight.serving.settings import ServingSettings, from_environment
from greenlight.settings import resolve_serving

ROOT = Path(__file__).resolve().parents[2]


def write_params(tmp_path: Path, section: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(f"train: {{model: hgb}}\nserving:\n{section}")
    return path


def test_the_repository_params_are_valid() -> None:
    settings = resolve_serving(ROOT / "params.yaml", environ={})
    assert settings.prediction_log == Path("logs/predictions.jsonl")
    assert settings.workers >= 1


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    params = write_params(tmp_path, "  max_batch: 50\n  workers: 2\n  log_keep: 3\n")
    environ = {"GREENLIGHT_WORKERS": "3", "GREENLIGHT_LOG_KEEP": "4", "UNRELATED": "x"}
    settings = resolve_serving(params, environ, overrides={"log_keep": 9, "bundle": None})
    assert (settings.max_batch, settings.workers, settings.log_keep) == (50, 3, 9)
    assert settings.bundle == ServingSettings().bundle  # a None option means "not given"


def test_missing_params_file_means_defaults(tmp_path: Path) -> None:
    assert resolve_serving(tmp_path / "absent.yaml", environ={}) == ServingSettings()


def test_workers_see_exactly_the_resolved_settings(tmp_path: Path) -> None:
    settings = ServingSettings(
        bundle=tmp_path / "b", prediction_log=tmp_path / "l.jsonl", access_log=True, max_batch=7
    )
    assert from_environment(settings.environment()) == settings


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("  max_batch: 0\n", "max_batch"),
        ("  workers: many\n", "workers"),
        ("  log_keep: 0\n", "log_keep"),
        ("  typo_key: 1\n", "typo_key"),
    ],
)
def test_bad_values_name_their_key(tmp_path: Path, section: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        resolve_serving(write_params(tmp_path, section), environ={})


def test_a_bad_variable_names_itself() -> None:
    with pytest.raises(ConfigError, match=r"environment .*max_batch"):
        from_environment({"GREENLIGHT_MAX_BATCH": "lots"})
