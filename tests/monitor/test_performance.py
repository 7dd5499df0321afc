"""Delayed labels on the sample model: `greenlight outcomes import` checks a labels file whole
and keeps sensitive attributes out of the outcome log; `greenlight monitor performance` finds a
seeded accuracy drop (exit 3), stays quiet on unshifted outcomes drawn from the model's own
probabilities, and says "not enough outcomes" when there are too few to judge."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from drift_fixtures import NOW, log_of_fixture, sample_fixture  # noqa: F401
from test_drift_cli import greenlight_fixture  # noqa: F401

from greenlight.errors import ConfigError, ExitCode
from greenlight.logformat import OUTCOME_FIELDS
from greenlight.monitor import log_reader, performance
from greenlight.monitor.performance_job import ImportJob, PerformanceJob, import_outcomes, run
from greenlight.monitor.settings import PerformanceParams, Window
from greenlight.outcomes import OutcomeError
from greenlight.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
UNSHIFTED_SAMPLES = 20
FALSE_ALARMS_MEASURED = 0  # of the 20 unshifted samples below (600 outcomes each)


def logged(log: Path) -> pd.DataFrame:
    """request_id, label and probability of every line of a prediction log."""
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return pd.DataFrame(
        {
            "request_id": [line["request_id"] for line in lines],
            "label": [line["prediction"]["label"] for line in lines],
            "probability": [line["prediction"]["probability"] for line in lines],
        }
    )


def write_csv(path: Path, **columns) -> Path:
    pd.DataFrame({name: list(values) for name, values in columns.items()}).to_csv(path, index=False)
    return path


def write_labels(path: Path, request_ids, labels, **extra) -> Path:
    """A labels CSV: request_id, record (0: the simulated log has one record a request), label."""
    request_ids = list(request_ids)
    return write_csv(
        path, request_id=request_ids, record=[0] * len(request_ids), label=labels, **extra
    )


def flipped(records: pd.DataFrame, share: float, seed: int) -> list[str]:
    """The records' true labels with `share` of them flipped: the world moved away from the model,
    which now is wrong on about that many more records."""
    flip = np.random.default_rng(seed).random(len(records)) < share
    labels = records["income"].to_numpy(dtype=object)
    other = np.where(labels == ">50K", "<=50K", ">50K")
    return list(np.where(flip, other, labels))


def own_draws(predictions: pd.DataFrame, seed: int) -> list[str]:
    """Outcomes drawn from the model's own probabilities: what a calibrated model would see."""
    draws = np.random.default_rng(seed).random(len(predictions)) < predictions["probability"]
    return list(np.where(draws, ">50K", "<=50K"))


@dataclass(frozen=True)
class Cli:
    """`greenlight outcomes import` and `monitor performance` on the sample model, in tmp_path."""

    greenlight: Callable[..., int]
    bundle: Path
    metrics: Path
    tmp_path: Path

    @property
    def outcome_log(self) -> Path:
        return self.tmp_path / "outcomes.jsonl"

    def report(self, name: str) -> str:
        return (self.tmp_path / "reports" / name).read_text()

    def common(self) -> list[object]:
        return [
            "--params",
            ROOT / "params.yaml",
            "--bundle",
            self.bundle,
            "--outcome-log",
            self.outcome_log,
        ]

    def import_labels(self, labels: Path, log: Path) -> int:
        return self.greenlight("outcomes", "import", labels, "--log", log, *self.common())

    def measure(self, log: Path, *extra: object) -> int:
        reports = self.tmp_path / "reports"
        args = [
            "--log",
            log,
            "--metrics",
            self.metrics,
            "--reports",
            reports,
            "--until",
            NOW.isoformat(),
        ]
        return self.greenlight("monitor", "performance", *self.common(), *args, *extra)


@pytest.fixture(name="cli")
def cli_fixture(greenlight, sample, pipeline_run, tmp_path) -> Cli:
    return Cli(greenlight, sample.bundle_dir, pipeline_run.reports / "metrics.json", tmp_path)


@pytest.mark.parametrize("share", [0.15, 0.3])
def test_a_seeded_accuracy_drop_exits_3(cli, capsys, sample, log_of, share):
    records = sample.test.sample(600, random_state=3)
    log = log_of(records)
    predictions = logged(log)
    labels = write_labels(
        cli.tmp_path / "labels.csv", predictions["request_id"], flipped(records, share, 1)
    )
    assert cli.import_labels(labels, log) == 0
    assert "imported 600 outcome(s)" in capsys.readouterr().out
    code = cli.measure(log)
    assert code == ExitCode.DRIFT == 3
    output = capsys.readouterr().out
    print(output)
    assert output.startswith("degraded: 600 labelled predictions")
    report = json.loads(cli.report("performance.json"))
    assert report["verdict"] == "degraded"
    assert {check["figure"] for check in report["checks"] if check["degraded"]} >= {"accuracy"}
    assert "Live performance: degraded" in cli.report("performance.md")
    assert "<h2>Live performance: degraded" in cli.report("performance.html")


def own_probabilities(records: pd.DataFrame, predictions: pd.DataFrame, seed: int) -> list[str]:
    return own_draws(predictions, seed)


def true_labels(records: pd.DataFrame, predictions: pd.DataFrame, seed: int) -> list[str]:
    return list(records["income"])


@pytest.mark.parametrize("outcomes_of", [own_probabilities, true_labels])
def test_unshifted_outcomes_stay_quiet(sample, log_of, pipeline_run, tmp_path, outcomes_of):
    """20 samples of 600: outcomes drawn from the model's own probabilities (a calibrated model's
    world; it scores better than on its test split), and the test records' true labels,
    resampled with replacement (the test split's world: no change expected)."""
    settings = PerformanceParams(window=Window(days=1), min_outcomes=500)
    false_alarms, worst = 0, []
    for seed in range(UNSHIFTED_SAMPLES):
        replace = outcomes_of is true_labels  # a bootstrap sample of the test split
        records = sample.test.sample(600, replace=replace, random_state=100 + seed)
        log = log_of(records, name=f"logs{seed}")
        predictions = logged(log)
        labels = write_labels(
            tmp_path / f"labels{seed}.csv",
            predictions["request_id"],
            outcomes_of(records, predictions, seed),
        )
        outcome_log = tmp_path / f"outcomes{seed}.jsonl"
        import_outcomes(ImportJob(labels, outcome_log, log, sample.bundle_dir, NOW))
        job = PerformanceJob(
            settings.model_copy(update={"outcome_log": outcome_log}),
            log,
            sample.bundle_dir,
            pipeline_run.reports / "metrics.json",
            tmp_path / f"reports{seed}",
            now=NOW,
        )
        result = run(job)
        assert result.verdict in {performance.FINE, performance.DEGRADED}
        false_alarms += result.degraded
        worst.append([check.change for check in result.checks])
    changes = np.array(worst)  # accuracy, roc_auc, brier: live - test
    print(
        f"{outcomes_of.__name__}: false alarms {false_alarms} of {UNSHIFTED_SAMPLES}; worst "
        f"accuracy {changes[:, 0].min():+.4f}, roc_auc {changes[:, 1].min():+.4f}, "
        f"brier {changes[:, 2].max():+.4f}"
    )
    assert false_alarms == FALSE_ALARMS_MEASURED


def test_too_few_outcomes_is_not_enough_not_fine(cli, capsys, sample, log_of, tmp_path):
    records = sample.test.sample(600, random_state=4)
    log = log_of(records)
    predictions = logged(log).head(40)  # labels for 40 of the 600, most of them wrong
    labels = write_labels(
        tmp_path / "labels.csv", predictions["request_id"], flipped(records.head(40), 0.9, 2)
    )
    assert cli.import_labels(labels, log) == 0
    assert cli.measure(log) == 0
    assert capsys.readouterr().out.splitlines()[-2].startswith("not enough outcomes: 40 labelled")
    summary = cli.report("performance.md")
    assert "Live performance: not enough outcomes" in summary
    assert "at least 500 are needed" in summary
    report = json.loads(cli.report("performance.json"))
    assert report["verdict"] == "not enough outcomes" and report["degraded"] is False


def test_the_outcome_log_never_holds_a_sensitive_column(cli, capsys, sample, log_of, tmp_path):
    records = sample.test.sample(50, random_state=5)
    log = log_of(records)
    predictions = logged(log)
    with_sex = write_labels(
        tmp_path / "with_sex.csv",
        predictions["request_id"],
        predictions["label"],
        sex=list(records["sex"]),
    )
    assert cli.import_labels(with_sex, log) == 2
    error = capsys.readouterr().err
    assert "unexpected ['sex']" in error and "sensitive attributes never go into" in error
    assert "Female" not in error and "Male" not in error
    assert not (tmp_path / "outcomes.jsonl").exists()
    labels = write_labels(tmp_path / "labels.csv", predictions["request_id"], predictions["label"])
    assert cli.import_labels(labels, log) == 0
    lines = [json.loads(line) for line in (tmp_path / "outcomes.jsonl").read_text().splitlines()]
    assert len(lines) == 50
    assert all(tuple(line) == OUTCOME_FIELDS for line in lines)


def test_unknown_ids_are_one_error_naming_how_many(cli, capsys, sample, log_of, tmp_path):
    log = log_of(sample.test.sample(20, random_state=6))
    predictions = logged(log)
    ids = [*predictions["request_id"], "feedfeed", "beefbeef"]
    labels = write_labels(tmp_path / "labels.csv", ids, [*predictions["label"], ">50K", "<=50K"])
    assert cli.import_labels(labels, log) == 2
    error = capsys.readouterr().err
    assert "2 of 22 outcome(s) name no logged prediction (2 unknown request_id" in error
    assert "feedfeed/0, beefbeef/0" in error and str(labels) in error
    assert not (tmp_path / "outcomes.jsonl").exists()


def test_a_record_beyond_its_request_is_unknown(sample, log_of, tmp_path):
    log = log_of(sample.test.sample(5, random_state=7))
    request_id = logged(log)["request_id"][0]
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"request_id": request_id, "record": 1, "label": ">50K"}) + "\n")
    with pytest.raises(OutcomeError, match="0 unknown request_id, 1 record beyond"):
        import_outcomes(ImportJob(labels, tmp_path / "outcomes.jsonl", log, sample.bundle_dir, NOW))


def test_an_outcome_is_recorded_once(sample, log_of, tmp_path):
    log = log_of(sample.test.sample(10, random_state=8))
    predictions = logged(log)
    outcome_log = tmp_path / "outcomes.jsonl"
    twice = write_labels(
        tmp_path / "twice.csv", [*predictions["request_id"]] * 2, [*predictions["label"]] * 2
    )
    with pytest.raises(
        OutcomeError, match=r"10 \(request_id, record\) pair\(s\) given more than once"
    ):
        import_outcomes(ImportJob(twice, outcome_log, log, sample.bundle_dir, NOW))
    once = write_labels(tmp_path / "once.csv", predictions["request_id"], predictions["label"])
    assert import_outcomes(ImportJob(once, outcome_log, log, sample.bundle_dir, NOW)) == 10
    with pytest.raises(OutcomeError, match=r"10 of 10 outcome\(s\) are already in the outcome log"):
        import_outcomes(ImportJob(once, outcome_log, log, sample.bundle_dir, NOW))
    assert len(outcome_log.read_text().splitlines()) == 10


def test_a_label_outside_the_spec_names_its_line(sample, log_of, tmp_path):
    log = log_of(sample.test.sample(3, random_state=9))
    predictions = logged(log)
    labels = write_labels(
        tmp_path / "labels.csv", predictions["request_id"], ["<=50K", "yes", ">50K"]
    )
    with pytest.raises(OutcomeError, match=r"labels.csv:3: label 'yes' is not one of"):
        import_outcomes(ImportJob(labels, tmp_path / "outcomes.jsonl", log, sample.bundle_dir, NOW))


def test_records_of_a_batch_are_numbered_in_written_order_across_a_rotation():
    frame = pd.DataFrame(
        {
            log_reader.WHERE: [
                "logs/p.jsonl:1",
                "logs/p.jsonl:2",
                "logs/p.jsonl.1:7",
                "logs/p.jsonl.1:8",
            ],
            log_reader.REQUEST_ID: ["b", "c", "a", "b"],
        }
    )
    numbered = log_reader.with_record_numbers(frame)
    assert list(numbered[log_reader.RECORD]) == [1, 0, 0, 0]


def test_fairness_comes_only_from_the_separate_file(cli, sample, log_of, tmp_path):
    records = sample.test.sample(600, random_state=10)
    log = log_of(records)
    predictions = logged(log)
    labels = write_labels(
        tmp_path / "labels.csv", predictions["request_id"], own_draws(predictions, 3)
    )
    assert cli.import_labels(labels, log) == 0
    assert cli.measure(log) == 0
    summary = cli.report("performance.md")
    assert "Fairness by group: not computed" in summary
    sensitive = write_csv(
        tmp_path / "sensitive.csv",
        request_id=predictions["request_id"],
        record=[0] * 600,
        sex=records["sex"],
        race=records["race"],
    )
    assert cli.measure(log, "--sensitive", sensitive) == 0
    report = json.loads(cli.report("performance.json"))
    assert set(report["fairness"]) == {"sex", "race"}
    assert report["fairness"]["sex"]["demographic_parity_difference"] is not None
    summary = cli.report("performance.md")
    for value in ("Female", "Male", "White", "Black"):
        assert value not in summary


def test_performance_settings_are_checked_with_their_key(tmp_path: Path) -> None:
    def checked(section: object) -> PerformanceParams:
        path = tmp_path / "params.yaml"
        path.write_text(json.dumps({"monitor": {"performance": section}}))  # JSON is YAML
        return load_settings(path, with_dataset=False).monitor.performance

    assert load_settings(ROOT / "params.yaml").monitor.performance.min_outcomes == 500
    with pytest.raises(ConfigError, match=r"monitor\.performance\.max_drop\.accuracy"):
        checked({"max_drop": {"accuracy": 2}})
    with pytest.raises(ConfigError, match=r"monitor\.performance\.min_outcome: Extra inputs"):
        checked({"min_outcome": 5})
    with pytest.raises(ConfigError, match=r"monitor\.performance\.window"):
        checked({"window": {"days": 3, "rows": 5}})
