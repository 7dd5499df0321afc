"""params.yaml, parsed and checked: the one strict base model, the one reader and the one error
format for every section (pipeline, serving, deploy, drift, monitor). A typo or a bad value is
reported as `<file>: <dotted.key>: <problem>`, whichever command reads the section."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from greenlight.errors import ConfigError
from greenlight.spec import DatasetSpec

DEFAULT_PARAMS = Path("params.yaml")


class SettingsError(ConfigError):
    """A params file is missing, unreadable, or a key in it is unknown or has a bad value; the
    message names the file and each dotted key."""


class Strict(BaseModel):
    """The base of every settings model: an unknown key is an error at every level."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_Model = TypeVar("_Model", bound=BaseModel)


class FeaturizeParams(Strict):
    valid_size: float = Field(0.2, gt=0, lt=1)
    test_size: float | None = Field(None, gt=0, lt=1)  # only with one dataset file (`all`)
    seed: int = 42
    use_sensitive: bool = False


class HgbParams(Strict):
    learning_rate: float = Field(0.1, gt=0)
    max_iter: int = Field(300, ge=1)
    max_leaf_nodes: int = Field(31, ge=2)
    l2_regularization: float = Field(0.0, ge=0)
    early_stopping: bool = True
    n_iter_no_change: int = Field(10, ge=1)


class LogregParams(Strict):
    C: float = Field(1.0, gt=0)
    max_iter: int = Field(1000, ge=1)


class MlpParams(Strict):
    hidden: tuple[int, ...] = (128, 64)
    dropout: float = Field(0.1, ge=0, lt=1)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    patience: int = Field(5, ge=1)


class TrainParams(Strict):
    model: Literal["hgb", "logreg", "mlp"] = "hgb"
    seed: int = 42
    device: Literal["auto", "cpu", "cuda"] = "auto"
    known_answers: int = Field(20, ge=1)
    hgb: HgbParams = HgbParams()
    logreg: LogregParams = LogregParams()
    mlp: MlpParams = MlpParams()


class ImportanceParams(Strict):
    n_repeats: int = Field(5, ge=1)
    sample: int = Field(4000, ge=10)
    scoring: Literal["roc_auc", "neg_log_loss"] = "roc_auc"  # threshold-free scores


class EvaluateParams(Strict):
    threshold: float = Field(0.5, gt=0, lt=1)
    calibration_bins: int = Field(10, ge=2)
    importance: ImportanceParams = ImportanceParams()


class ConfidenceParams(Strict):
    level: float = Field(0.95, gt=0, lt=1)
    resamples: int = Field(1000, ge=100)
    seed: int = 42


class FairnessParams(Strict):
    max_difference: dict[
        Literal["demographic_parity_difference", "equalized_odds_difference"], float
    ] = Field(default_factory=dict)
    min_group_count: int = Field(30, ge=1)
    confidence: ConfidenceParams = ConfidenceParams()
    gate_on: Literal["estimate", "upper", "lower"] = "estimate"


class ExplainParams(Strict):
    sample: int = Field(5000, ge=10)
    seed: int = 42
    max_coalitions: int = Field(4096, ge=16)


class GateParams(Strict):
    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)


class CardParams(Strict):
    intended_use: str = "Describe who may use this model, for what decision, and what not."
    limitations: tuple[str, ...] = ()


# A section of params.yaml that another tool checks with its own model when it runs (serving,
# deploy and monitor settings), so the pipeline does not import them; here only named, so that a
# misspelt top-level section is refused instead of ignored.
ToolSection = Annotated[dict[str, Any], BeforeValidator(lambda value: value or {})]


class Params(Strict):
    drift: ToolSection = {}
    monitor: ToolSection = {}
    serving: ToolSection = {}
    deploy: ToolSection = {}

    dataset: DatasetSpec
    featurize: FeaturizeParams = FeaturizeParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    fairness: FairnessParams = FairnessParams()
    explain: ExplainParams = ExplainParams()
    gate: GateParams = GateParams()
    card: CardParams = CardParams()

    @model_validator(mode="after")
    def _test_split_fits_the_files(self) -> Params:
        single, test_size = self.dataset.single_file, self.featurize.test_size
        if single and test_size is None:
            raise ValueError(
                "featurize.test_size is required with one dataset file (dataset.files.all): "
                "the share of it held out as the test split, e.g. 0.2"
            )
        if not single and test_size is not None:
            raise ValueError(
                "featurize.test_size applies only to one dataset file (dataset.files.all); "
                "with dataset.files.train and .test, the test file is the test split"
            )
        return self


def load_params(path: Path = DEFAULT_PARAMS) -> Params:
    """Read and check params.yaml and the schema file it names; every problem names its key,
    e.g. `train.hgb.max_iter` or `dataset.columns.age.min`."""
    raw = read_yaml(path)
    schema = _schema_path(raw, path)
    return parse_params(_inline_columns(raw, read_yaml(schema)), source=f"{path} + {schema}")


def _schema_path(raw: object, params_path: Path) -> Path:
    """dataset.schema is relative to the params file, like every path in it."""
    dataset = raw.get("dataset") if isinstance(raw, dict) else None
    if not isinstance(dataset, dict) or not isinstance(dataset.get("schema"), str):
        raise SettingsError(
            f"{params_path}: dataset.schema must name the schema file (schema.yaml)"
        )
    return params_path.parent / dataset["schema"]


def _inline_columns(raw: dict, schema: object) -> dict:
    if not isinstance(schema, dict) or "columns" not in schema:
        raise SettingsError("the schema file must have a top-level `columns:` mapping")
    dataset = {key: value for key, value in raw["dataset"].items() if key != "schema"}
    return {**raw, "dataset": {**dataset, "columns": schema["columns"]}}


def parse_params(raw: object, source: str = "params") -> Params:
    return check(Params, raw, source)


def check(model: type[_Model], raw: object, source: object, section: str = "") -> _Model:
    """`raw` as `model`, or one SettingsError: `<source>: <section>.<key>: <problem>; ...`."""
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as error:
        problems = "; ".join(_describe(problem, section) for problem in error.errors())
        raise SettingsError(f"{source}: {problems}") from error


def read_sections(path: Path, required: bool = False) -> dict[str, Any]:
    """params.yaml's top-level mapping, every section name checked ({} where the file is absent
    and not `required`), so that a command reading one section still refuses a misspelt other."""
    raw = read_yaml(path) if required or path.is_file() else {}
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: expected a mapping of sections")
    unknown = sorted(str(key) for key in raw if key not in Params.model_fields)
    if unknown:
        raise SettingsError(
            f"{path}: " + "; ".join(f"{key}: Extra inputs are not permitted" for key in unknown)
        )
    return raw


def section_of(path: Path, name: str, model: type[_Model]) -> _Model:
    """One dotted section of the params file (e.g. `monitor.performance`), checked as `model`."""
    raw: object = read_sections(path)
    for part in name.split("."):
        raw = raw.get(part) if isinstance(raw, dict) else None
    return check(model, raw, path, name)


def read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError as error:
        raise SettingsError(f"{path}: file not found") from error
    except yaml.YAMLError as error:
        raise SettingsError(f"{path}: not valid YAML: {error}") from error


def _describe(problem: dict, section: str) -> str:
    key = ".".join(str(part) for part in (*([section] if section else []), *problem["loc"]))
    return f"{key}: {problem['msg']}" if key else problem["msg"]  # a whole-params check has no key
