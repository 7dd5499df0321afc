"""One model, one loader, one error format for params.yaml (greenlight.settings): a misspelt
section or key at any level, or a bad value, stops every command family with exit 2 and a message
naming the file given with `--params` and the dotted key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from greenlight.config import TOOL_SECTIONS, Params
from greenlight.errors import ExitCode
from greenlight.settings import Settings, load_settings, resolve_serving
from greenlight.settings_base import SettingsError
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
    assert resolve_serving(other_params, environ={}).max_batch == 1000


def test_an_environment_variable_still_overrides_the_file(other_params: Path) -> None:
    assert resolve_serving(other_params, environ={"GREENLIGHT_MAX_BATCH": "7"}).max_batch == 7
    with pytest.raises(SettingsError, match=r"serving\.max_batch: Input should be greater"):
        resolve_serving(other_params, environ={"GREENLIGHT_MAX_BATCH": "0"})


# -- the whole-file model -------------------------------------------------------------------------

# maps whose keys are names, not settings: a metric the reports lack fails the gate ("missing")
FREE_FORM = ("gate.min.", "gate.max.")
# misspelt keys whose problem is said by the model that holds them, not as an unknown key
SAID_OTHERWISE = {
    "dataset.files.trainx": "dataset: Value error, files has ['test', 'trainx']",
    "dataset.files.testx": "dataset: Value error, files has ['testx', 'train']",
    "dataset.schemax": "dataset.schema must name the schema file",
    "fairness.max_difference.demographic_parity_differencex": "Input should be",
    "fairness.max_difference.equalized_odds_differencex": "Input should be",
}


def key_paths(node: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(node, dict):
        return []
    paths = [(*prefix, str(key)) for key in node]
    return paths + [path for key in node for path in key_paths(node[key], (*prefix, str(key)))]


REPOSITORY_KEYS = [
    ".".join(path)
    for path in key_paths(yaml.safe_load((ROOT / "params.yaml").read_text()))
    if not ".".join(path).startswith(FREE_FORM)
]


def misspell(path: Path, dotted: str) -> str:
    """Rename the key at `dotted` to `<key>x`; the misspelt dotted key."""
    raw = yaml.safe_load(path.read_text())
    *parents, last = dotted.split(".")
    section = raw
    for part in parents:
        section = section[part]
    section[f"{last}x"] = section.pop(last)
    path.write_text(yaml.safe_dump(raw))
    return f"{dotted}x"


def test_the_stages_set_aside_exactly_the_tools_sections() -> None:
    assert set(TOOL_SECTIONS) == set(Settings.model_fields) - set(Params.model_fields)


def test_every_section_of_the_file_is_a_field_of_the_one_model() -> None:
    sections = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(sections) <= set(Settings.model_fields)
    loaded = load_settings(ROOT / "params.yaml")
    assert loaded.dataset is not None and loaded.dataset.name == sections["dataset"]["name"]
    assert loaded.deploy.watch.window_s == sections["deploy"]["watch"]["window_s"]
    assert (
        loaded.monitor.performance.min_outcomes
        == sections["monitor"]["performance"]["min_outcomes"]
    )


@pytest.mark.parametrize("dotted", REPOSITORY_KEYS)
def test_a_misspelt_key_at_any_level_is_refused_naming_file_and_key(
    dotted: str, other_params: Path
) -> None:
    misspelt = misspell(other_params, dotted)
    with pytest.raises(SettingsError) as refused:
        load_settings(other_params)
    message = str(refused.value)
    assert message.startswith(f"{other_params}"), message
    expected = SAID_OTHERWISE.get(misspelt, f"{misspelt}: Extra inputs are not permitted")
    assert expected in message, message


def test_without_the_dataset_no_schema_file_is_needed_and_the_rest_is_still_checked(
    other_params: Path,
) -> None:
    (other_params.parent / "schema.yaml").unlink()
    assert load_settings(other_params, with_dataset=False).dataset is None
    with pytest.raises(SettingsError, match=r"schema\.yaml: file not found"):
        load_settings(other_params)
    misspelt = misspell(other_params, "deploy.local.proxy_port")
    with pytest.raises(SettingsError, match=rf"^{other_params}: {misspelt}: Extra inputs"):
        load_settings(other_params, with_dataset=False)


@pytest.mark.parametrize("family", ["deploy", "drift", "performance"])
def test_deploy_and_the_monitors_run_without_the_schema_file(
    family: str, other_params: Path
) -> None:
    (other_params.parent / "schema.yaml").unlink()
    _, _, err = invoke(*FAMILIES[family], "--params", str(other_params))
    assert "schema" not in err and f"{other_params}:" not in err, err


def test_a_folder_given_as_the_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=rf"^{tmp_path}: file not found"):
        load_settings(tmp_path, with_dataset=False)


def test_an_absent_file_is_every_default_only_where_allowed(tmp_path: Path) -> None:
    absent = tmp_path / "absent.yaml"
    assert load_settings(absent, with_dataset=False, missing_ok=True) == Settings()
    with pytest.raises(SettingsError, match=rf"^{absent}: file not found"):
        load_settings(absent, with_dataset=False)


def test_help_and_readme_document_the_line_a_bad_key_gives(other_params: Path) -> None:
    _, out, _ = invoke("--help")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    exit_codes = readme[readme.index("## Exit codes") :].split("\n## ", 1)[0]
    for text in (" ".join(out.split()), exit_codes):
        assert "error: <file>: <dotted.key>: <problem>" in text
    misspelt = misspell(other_params, "deploy.watch.max_error_rate")
    _, _, err = invoke("deploy", "status", "--params", str(other_params))
    assert err == f"error: {other_params}: {misspelt}: Extra inputs are not permitted\n"
