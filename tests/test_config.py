"""params.yaml + schema.yaml: parsed once, every mistake named by its key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from greenlight.config import load_params
from greenlight.errors import ConfigError
from greenlight.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def edit(path: Path, change: callable) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def test_repository_params_load_with_schema_inlined() -> None:
    params = load_params(ROOT / "params.yaml")
    assert params.train.model == "hgb"
    assert params.dataset.target.column in params.dataset.columns
    assert set(params.dataset.sensitive) == {"sex", "race"}


def test_unknown_key_is_named(config_dir: Path) -> None:
    edit(config_dir / "params.yaml", lambda d: d["train"]["hgb"].update(max_iters=3))
    with pytest.raises(ConfigError, match=r"train\.hgb\.max_iters: Extra inputs are not permitted"):
        load_params(config_dir / "params.yaml")


def test_a_misspelt_section_is_refused_not_ignored(config_dir: Path) -> None:
    def misspell(data: dict) -> None:
        data["serivng"] = data.pop("serving")

    edit(config_dir / "params.yaml", misspell)
    with pytest.raises(ConfigError, match=r"serivng: Extra inputs are not permitted"):
        load_params(config_dir / "params.yaml")


def test_a_drift_mistake_names_the_params_file_it_came_from(config_dir: Path) -> None:
    path = config_dir / "params.yaml"
    edit(path, lambda d: d["drift"].update(p_value=2))
    with pytest.raises(ConfigError, match=rf"^{path}: drift\.p_value"):
        load_settings(path, with_dataset=False)


def test_bad_value_is_named(config_dir: Path) -> None:
    edit(config_dir / "params.yaml", lambda d: d["featurize"].update(valid_size=1.5))
    with pytest.raises(ConfigError, match=r"featurize\.valid_size: Input should be less than 1"):
        load_params(config_dir / "params.yaml")


def one_file(data: dict, **featurize: float) -> None:
    data["dataset"]["files"] = {"all": {"path": "data/all.csv"}}
    data["featurize"].update(featurize)


def test_one_dataset_file_needs_a_test_size_and_gets_it(config_dir: Path) -> None:
    edit(config_dir / "params.yaml", one_file)
    with pytest.raises(
        ConfigError, match=r"featurize\.test_size is required with one dataset file"
    ):
        load_params(config_dir / "params.yaml")
    edit(config_dir / "params.yaml", lambda d: d["featurize"].update(test_size=0.25))
    params = load_params(config_dir / "params.yaml")
    assert params.dataset.single_file and params.featurize.test_size == 0.25


def test_a_test_size_beside_a_test_file_is_refused(config_dir: Path) -> None:
    edit(config_dir / "params.yaml", lambda d: d["featurize"].update(test_size=0.2))
    with pytest.raises(ConfigError, match=r"applies only to one dataset file"):
        load_params(config_dir / "params.yaml")


def test_a_bad_test_size_is_named(config_dir: Path) -> None:
    edit(config_dir / "params.yaml", lambda d: one_file(d, test_size=1.0))
    with pytest.raises(ConfigError, match=r"featurize\.test_size: Input should be less than 1"):
        load_params(config_dir / "params.yaml")


def test_unknown_model_is_named(config_dir: Path) -> None:
    edit(config_dir / "params.yaml", lambda d: d["train"].update(model="xgboost"))
    with pytest.raises(
        ConfigError, match=r"train\.model: Input should be 'hgb', 'logreg' or 'mlp'"
    ):
        load_params(config_dir / "params.yaml")


def test_schema_mistake_is_named_with_its_column(config_dir: Path) -> None:
    edit(config_dir / "schema.yaml", lambda d: d["columns"]["age"].update(min="young"))
    with pytest.raises(ConfigError, match=r"dataset\.columns\.age\.min"):
        load_params(config_dir / "params.yaml")


def test_missing_files_and_bad_yaml_are_reported(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_params(config_dir / "nope.yaml")
    (config_dir / "schema.yaml").unlink()
    with pytest.raises(ConfigError, match=r"schema\.yaml: file not found"):
        load_params(config_dir / "params.yaml")
    (config_dir / "params.yaml").write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(config_dir / "params.yaml")


def test_schema_reference_is_required(config_dir: Path) -> None:
    edit(config_dir / "params.yaml", lambda d: d["dataset"].pop("schema"))
    with pytest.raises(ConfigError, match=r"dataset\.schema must name the schema file"):
        load_params(config_dir / "params.yaml")
