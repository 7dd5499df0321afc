"""One loader, one error format for params.yaml (greenlight.config): a misspelt section or key,
or a bad value, stops every command family with exit 2 and a message naming the file given with
`--params` and the dotted key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from greenlight.config import SettingsError
from greenlight.errors import ExitCode
from greenlight.serving.settings import resolve
from tests.test_exit_codes import invoke, write_bundle

ROOT = Path(__file__).resolve().parents[1]

# one command per family that reads params.yaml
FAMILIES = {
    "pipeline stage": ["validate"],
    "serve": ["serve"],
    "deploy": ["deploy", "status"],
    "drift": ["drift"],
    "performance": ["monitor", "performance"],
}
# (family, dotted key, value set there, what the message says after the key)
NESTED = [
    ("pipeline stage", "train.hgb.max_itr", 3, "Extra inputs are not permitted"),
    ("pipeline stage", "train.hgb.max_iter", "many", "Input should be a valid integer"),
    ("serve", "serving.max_btch", 3, "Extra inputs are not permitted"),
    ("serve", "serving.max_batch", 0, "Input should be greater than or equal to 1"),
    ("deploy", "deploy.watch.max_eror_rate", 0.1, "Extra inputs are not permitted"),
    ("deploy", "deploy.watch.max_error_rate", "abc", "Input should be a valid number"),
    ("drift", "drift.windw", {"days": 1}, "Extra inputs are not permitted"),
    ("drift", "drift.p_value", 2, "Input should be less than 1"),
    ("performance", "monitor.performance.min_outcome", 9, "Extra inputs are not permitted"),
    ("performance", "monitor.performnce", {}, "Extra inputs are not permitted"),
    ("performance", "monitor.performance.max_drop.accuracy", "x", "Input should be a valid number"),
]


@pytest.fixture
def other_params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's params.yaml and schema.yaml, copied as other.yaml, in a scratch folder."""
    monkeypatch.chdir(tmp_path)
    write_bundle(tmp_path / "models" / "bundle")  # what deploy reads before its params
    shutil.copy(ROOT / "schema.yaml", tmp_path / "schema.yaml")
    shutil.copy(ROOT / "params.yaml", tmp_path / "other.yaml")
    return tmp_path / "other.yaml"


def set_key(path: Path, dotted: str, value: object) -> None:
    raw = yaml.safe_load(path.read_text())
    *parents, last = dotted.split(".")
    section = raw
    for part in parents:
        section = section.setdefault(part, {})
    section[last] = value
    path.write_text(yaml.safe_dump(raw))


def assert_refused_naming(params: Path, family: str, expected: str) -> None:
    code, _, err = invoke(*FAMILIES[family], "--params", str(params))
    assert code == ExitCode.BAD_INPUT, err
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert f"{params}" in err and expected in err, err


@pytest.mark.parametrize("family", FAMILIES)
def test_a_misspelt_section_is_refused_by_every_family(family: str, other_params: Path) -> None:
    set_key(other_params, "servng", {"workers": 1})
    assert_refused_naming(other_params, family, "servng: Extra inputs are not permitted")


@pytest.mark.parametrize(("family", "key", "value", "problem"), NESTED, ids=str)
def test_a_bad_nested_key_names_file_and_dotted_key(
    family: str, key: str, value: object, problem: str, other_params: Path
) -> None:
    set_key(other_params, key, value)
    assert_refused_naming(other_params, family, f"{key}: {problem}")


# serve with good settings would start serving: its peer is the loader itself, below
@pytest.mark.parametrize("family", [family for family in FAMILIES if family != "serve"])
def test_the_repository_params_pass_the_loader(family: str, other_params: Path) -> None:
    """The peer: the untouched copy raises no settings problem (the command may still stop
    later, e.g. on data this scratch folder lacks)."""
    _, _, err = invoke(*FAMILIES[family], "--params", str(other_params))
    assert "Extra inputs" not in err and "Input should" not in err, err


def test_the_repository_serving_settings_load(other_params: Path) -> None:
    assert resolve(other_params, environ={}).max_batch == 1000


def test_an_environment_variable_still_overrides_the_file(other_params: Path) -> None:
    assert resolve(other_params, environ={"GREENLIGHT_MAX_BATCH": "7"}).max_batch == 7
    with pytest.raises(SettingsError, match=r"serving\.max_batch: Input should be greater"):
        resolve(other_params, environ={"GREENLIGHT_MAX_BATCH": "0"})
