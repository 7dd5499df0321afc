"""Delayed labels on the command line (cli.py adds both Typers): `greenlight outcomes import` and
`fetch`, `greenlight monitor performance` and `performance-issue`. Cheap to import; each command
imports its machinery when it runs.

`greenlight monitor performance` exits 0 when the live figures are within the thresholds or there
are not enough outcomes to judge (the verdict says which), 3 (ExitCode.DRIFT) on a degradation,
and 2 with one line for bad input, like `greenlight drift`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from greenlight.monitor.commands import (
    FetchedOption,
    LogOption,
    LogStoreOption,
    MissingOkOption,
    ParamsOption,
    UntilOption,
    _moment,
    _read_summary,
    fetch_or_notice,
    finish,
    monitor_settings,
    open_or_update,
)
from greenlight.paths import BUNDLE, REPORTS
from greenlight.settings_base import DEFAULT_PARAMS

if TYPE_CHECKING:
    from greenlight.monitor.performance_report import PerformanceResult
    from greenlight.settings import Settings

outcomes = typer.Typer(help="Delayed labels: the true outcomes of logged predictions.")
monitor = typer.Typer(help="The live model, measured from its logs.")

OutcomeLogOption = Annotated[
    Path | None, typer.Option(help="Outcome log (default: monitor.performance.outcome_log).")
]
BundleOption = Annotated[Path, typer.Option(help="The deployed model's bundle.")]


@outcomes.command("import")
def import_labels(
    labels: Annotated[Path, typer.Argument(help="CSV or JSON Lines: request_id, record, label.")],
    *,
    params: ParamsOption = DEFAULT_PARAMS,
    log: LogOption = None,
    outcome_log: OutcomeLogOption = None,
    bundle: BundleOption = BUNDLE,
) -> None:
    """Check a labels file against the spec and the prediction log, append it to the outcome log."""
    from greenlight.monitor.performance_job import ImportJob, import_outcomes  # noqa: PLC0415

    _, prediction_log, target = _logs(params, log, outcome_log)
    count = import_outcomes(ImportJob(labels, target, prediction_log, bundle))
    typer.echo(f"imported {count:,} outcome(s) from {labels} into {target}")


@monitor.command()
def performance(
    *,
    params: ParamsOption = DEFAULT_PARAMS,
    log: LogOption = None,
    outcome_log: OutcomeLogOption = None,
    bundle: BundleOption = BUNDLE,
    metrics: Annotated[Path, typer.Option(help="The model's test figures.")] = REPORTS
    / "metrics.json",
    sensitive: Annotated[
        Path | None,
        typer.Option(help="Access-controlled CSV/JSONL: request_id, record, sensitive columns."),
    ] = None,
    reports: Annotated[Path, typer.Option(help="Where performance.{html,json,md} go.")] = REPORTS,
    until: UntilOption = None,
    github_output: Annotated[
        Path | None, typer.Option(help="Append degraded=true|false here (GitHub step output).")
    ] = None,
) -> None:
    """Live accuracy, ROC AUC, Brier score from outcomes. Exit 0: fine or too few, 3: worse."""
    from greenlight.monitor.performance_job import PerformanceJob, run  # noqa: PLC0415

    loaded, prediction_log, outcome_log = _logs(params, log, outcome_log)
    settings = loaded.monitor.performance.model_copy(update={"outcome_log": outcome_log})
    job = PerformanceJob(settings, prediction_log, bundle, metrics, reports, sensitive)
    job = replace(job, min_group_count=loaded.fairness.min_group_count, now=_moment(until))
    result = run(job)
    typer.echo(result_line(result))
    typer.echo(f"reports: {reports}/performance.html, performance.json, performance.md")
    finish("degraded", result.degraded, github_output)


@monitor.command("performance-issue")
def performance_issue(
    run_url: Annotated[str, typer.Option(help="Link to the workflow run with the reports.")],
    summary: Annotated[Path, typer.Option(help="The issue's summary (no fairness table).")] = (
        REPORTS / "performance-issue.md"
    ),
    repository: Annotated[str, typer.Option(envvar="GITHUB_REPOSITORY", help="owner/name.")] = "",
    label: Annotated[str, typer.Option(help="The label that marks the one issue.")] = "performance",
) -> None:
    """Open the performance issue, or update the open one (GITHUB_TOKEN, issues: write)."""
    from greenlight.monitor.issue import PERFORMANCE  # noqa: PLC0415

    text = _read_summary(summary, "greenlight monitor performance")
    open_or_update(PERFORMANCE, text, run_url, repository, label)


@outcomes.command("fetch")
def fetch(
    params: ParamsOption = DEFAULT_PARAMS,
    source: LogStoreOption = None,
    outcome_log: OutcomeLogOption = None,
    *,
    missing_ok: MissingOkOption = False,
    github_output: FetchedOption = None,
) -> None:
    """Fetch the outcome log from the folder the deployment ships its logs to (drift.source)."""
    loaded, _, target = _logs(params, None, outcome_log)
    folder = (source or loaded.drift.source).rstrip("/")
    fetch_or_notice(
        f"{folder}/{target.name}",
        target,
        missing_ok=missing_ok,
        github_output=github_output,
        what="outcome log",
    )


def _logs(params: Path, log: Path | None, outcome_log: Path | None) -> tuple[Settings, Path, Path]:
    """The settings, and the prediction and outcome logs: the options' where given, else theirs."""
    loaded = monitor_settings(params)
    return (
        loaded,
        log or loaded.drift.prediction_log,
        outcome_log or loaded.monitor.performance.outcome_log,
    )


def result_line(result: PerformanceResult) -> str:
    """The verdict, the count and the live figures, one line."""
    figures = result.figures
    shown = ", ".join(
        f"{name} {value:.4f}" if value is not None else f"{name} n/a"
        for name, value in (
            ("accuracy", figures.accuracy),
            ("roc_auc", figures.roc_auc),
            ("brier", figures.brier),
        )
    )
    return f"{result.verdict}: {figures.count:,} labelled predictions; {shown}"
