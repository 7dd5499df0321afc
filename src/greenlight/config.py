"""The pipeline's sections of params.yaml (dataset, featurize, train, evaluate, fairness, explain,
gate, card) and `Params`, what the stages read of it. The tools' sections (drift, monitor,
serving, deploy) are typed in greenlight.settings, which adds them to these: the stages never
import a tool's settings, so a change there never re-runs the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from greenlight.settings_base import DEFAULT_PARAMS, SettingsError, Strict, check, read_yaml
from greenlight.spec import DatasetSpec


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


# What the evaluate stage writes to reports/metrics.json: the names a gate can bound, so a misspelt
# one is refused when params.yaml is read, not found missing after the whole pipeline has run.
MetricName = Literal[
    "accuracy", "roc_auc", "f1", "log_loss", "precision", "recall", "brier", "n_test"
]


class GateParams(Strict):
    min: dict[MetricName, float] = Field(default_factory=dict)
    max: dict[MetricName, float] = Field(default_factory=dict)


class CardParams(Strict):
    intended_use: str = "Describe who may use this model, for what decision, and what not."
    limitations: tuple[str, ...] = ()


# The tools' sections, typed by greenlight.settings.Settings. load_params sets them aside: a stage
# checks every other section name (a misspelt one is an unknown field of Params), no tool's keys.
TOOL_SECTIONS = ("drift", "monitor", "serving", "deploy")


class Params(Strict):
    """The pipeline's sections of params.yaml, what every stage takes."""

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
        if self.dataset is None:  # greenlight.settings.Settings, read without the schema
            return self
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
    raw, source = with_columns(read_yaml(path), path)
    pipeline = {key: value for key, value in raw.items() if key not in TOOL_SECTIONS}
    return check(Params, pipeline, source)


def with_columns(raw: object, path: Path) -> tuple[dict, str]:
    """The params file's mapping with the columns of the schema file it names (dataset.schema)
    inlined into its dataset section, and what an error names: `<params> + <schema>`."""
    schema = _schema_path(raw, path)
    return _inline_columns(raw, read_yaml(schema)), f"{path} + {schema}"


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
