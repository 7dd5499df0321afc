"""The monitoring commands, merged into `greenlight` (cli.py adds this Typer without a name):
`drift`, `drift-fetch`, `ship-logs` and `drift-issue`. Importing this module is cheap; each
command imports its machinery (pandas, Evidently, httpx) when it runs.

`greenlight drift` exits 0 when there is no drift, 3 (ExitCode.DRIFT) when there is, and 2 with a
one-line message for bad input: no log, an empty window, a log line that breaks the format."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from greenlight.ci.step_files import append
from greenlight.errors import ConfigError, ExitCode, MissingInputError
from greenlight.paths import BUNDLE, REPORTS, SPLIT
from greenlight.settings_base import DEFAULT_PARAMS

if TYPE_CHECKING:
    from greenlight.monitor.drift import DriftResult
    from greenlight.monitor.issue import IssueKind
    from greenlight.settings import Settings

app = typer.Typer()
REFERENCE = SPLIT / "train.parquet"  # the validated training features of the deployed model

ParamsOption = Annotated[Path, typer.Option("--params", help="Pipeline parameters file.")]
LogOption = Annotated[
    Path | None, typer.Option(help="Prediction log (default: drift.prediction_log).")
]
UntilOption = Annotated[str | None, typer.Option(help="Window end, ISO 8601 (default: now).")]
# where the deployment ships its logs (ship-logs) and the monitors fetch them from
LogStoreOption = Annotated[
    str | None,
    typer.Option(
        help="The logs' folder: remote://<remote>/<folder> or a URL (default: drift.source)."
    ),
]
# the fetch commands' (drift-fetch, outcomes fetch)
MissingOkOption = Annotated[
    bool, typer.Option(help="CI: a source that holds no log yet is a notice, not an error.")
]
FetchedOption = Annotated[
    Path | None, typer.Option(envvar="GITHUB_OUTPUT", help="Write fetched=true|false here.")
]


@app.command()
def drift(
    *,
    params: ParamsOption = DEFAULT_PARAMS,
    log: LogOption = None,
    bundle: Annotated[Path, typer.Option(help="The deployed model's bundle.")] = BUNDLE,
    reference: Annotated[Path, typer.Option(help="Its training features.")] = REFERENCE,
    reports: Annotated[Path, typer.Option(help="Where drift.{html,json,md} go.")] = REPORTS,
    until: UntilOption = None,
    github_output: Annotated[
        Path | None, typer.Option(help="Append drift=true|false here (GitHub step output).")
    ] = None,
) -> None:
    """Compare a window of logged traffic with the training data. Exit 0: no drift, 3: drift."""
    from greenlight.monitor import job  # noqa: PLC0415

    settings = monitor_settings(params).drift
    task = job.DriftJob(settings, log, bundle, reference, reports, _moment(until))
    result, context = job.run(task)
    typer.echo(summary(result, context))
    typer.echo(f"reports: {reports}/drift.html, drift.json, drift.md")
    finish("drift", result.drifted, github_output)


def monitor_settings(params: Path) -> Settings:
    """The params file without its dataset section: the monitors read the bundle's contract."""
    from greenlight.settings import load_settings  # noqa: PLC0415

    return load_settings(params, with_dataset=False)


def finish(key: str, found: bool, github_output: Path | None) -> None:
    """Tell the workflow (`<key>=true|false`), then exit 3 when drift or a degradation was found:
    what `make drift-ci` and the performance job read as an outcome, not a failure."""
    append(github_output, f"{key}={str(found).lower()}\n")
    if found:
        raise typer.Exit(ExitCode.DRIFT)


def summary(result: DriftResult, context: dict[str, Any]) -> str:
    """Three lines for the terminal: verdict, drifted features, predicted class."""
    count, total = len(result.drifted_features), len(result.features)
    shares = context["prediction"]["positive_share"]
    label = context["prediction"]["positive_label"]
    return "\n".join(
        [
            f"{'DRIFT' if result.drifted else 'no drift'}: {count}/{total} features drifted "
            f"in {context['window']['rows']:,} predictions ({context['window']['description']})",
            f"drifted features: {', '.join(result.drifted_features) or 'none'}",
            f"predicted {label}: {shares['current']:.1%} in the traffic, "
            f"{shares['reference']:.1%} on the reference "
            f"({'drifted' if result.prediction.drifted else 'stable'})",
        ]
    )


@app.command("drift-fetch")
def drift_fetch(
    params: ParamsOption = DEFAULT_PARAMS,
    source: LogStoreOption = None,
    log: LogOption = None,
    *,
    missing_ok: MissingOkOption = False,
    github_output: FetchedOption = None,
    summary: Annotated[
        Path | None, typer.Option(envvar="GITHUB_STEP_SUMMARY", help="Append the notice here.")
    ] = None,
) -> None:
    """Fetch the prediction log from where the deployment ships it (drift.source)."""
    settings = monitor_settings(params).drift
    where = (source or settings.source, log or settings.prediction_log)
    if not fetch_or_notice(*where, missing_ok=missing_ok, github_output=github_output):
        append(summary, _NOT_SHIPPED_NOTICE)


_NOT_SHIPPED_NOTICE = (
    "> [!NOTE]\n> **greenlight: no prediction log shipped yet.** Drift is measured once the "
    "deployment has shipped its log (`make ship-logs`, run by the target).\n"
)


def fetch_or_notice(
    source: str,
    log: Path,
    *,
    missing_ok: bool,
    github_output: Path | None,
    what: str = "prediction log",
) -> bool:
    """Fetch `log` from `source` and tell the workflow `fetched=true|false`; False when the
    source holds no log yet and that is allowed (a notice is printed)."""
    from greenlight.monitor.errors import NoLogShippedError  # noqa: PLC0415
    from greenlight.monitor.fetch import fetch_log  # noqa: PLC0415

    try:
        files = fetch_log(source, log, what)
    except NoLogShippedError as error:
        if not missing_ok:
            raise
        typer.echo(f"::notice title=greenlight: no {what} yet::{error}")
        append(github_output, "fetched=false\n")
        return False
    append(github_output, "fetched=true\n")
    typer.echo(f"fetched {len(files)} log file(s) from {source}")
    return True


@app.command("ship-logs")
def ship_logs(
    params: ParamsOption = DEFAULT_PARAMS,
    target: LogStoreOption = None,
    log: LogOption = None,
) -> None:
    """Mirror the prediction log, its rotated files and the outcome log beside it (POST /feedback
    writes it there) to where the monitors read them (drift.source)."""
    from greenlight.monitor.ship import dvc_remotes  # noqa: PLC0415
    from greenlight.monitor.ship import ship_logs as ship  # noqa: PLC0415

    loaded = monitor_settings(params)
    settings = loaded.drift
    prediction_log = log or settings.prediction_log
    destination, remotes = target or settings.source, dvc_remotes()
    names = ship(prediction_log, destination, remotes)
    outcome_log = prediction_log.with_name(loaded.monitor.performance.outcome_log.name)
    if outcome_log.is_file():
        names += ship(outcome_log, destination, remotes)
    typer.echo(f"shipped {len(names)} log file(s) to {destination}: {', '.join(names)}")


@app.command("drift-issue")
def drift_issue(
    run_url: Annotated[str, typer.Option(help="Link to the workflow run with the reports.")],
    summary: Annotated[Path, typer.Option(help="The drift summary.")] = REPORTS / "drift.md",
    repository: Annotated[str, typer.Option(envvar="GITHUB_REPOSITORY", help="owner/name.")] = "",
    label: Annotated[str, typer.Option(help="The label that marks the one drift issue.")] = "drift",
) -> None:
    """Open the drift issue, or update the open one (token: GITHUB_TOKEN, issues: write)."""
    from greenlight.monitor.issue import DRIFT  # noqa: PLC0415

    open_or_update(DRIFT, _read_summary(summary), run_url, repository, label)


def open_or_update(
    kind: IssueKind, summary: str, run_url: str, repository: str, label: str
) -> None:
    """The one open issue of `kind` on GitHub (GITHUB_TOKEN, GITHUB_API_URL), created or updated."""
    from greenlight.github import GitHub  # noqa: PLC0415
    from greenlight.monitor.issue import report  # noqa: PLC0415

    tracker = GitHub.from_env({**os.environ, "GITHUB_REPOSITORY": repository})
    typer.echo(report(tracker, kind, summary, run_url, label).describe())


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ConfigError(f"--until {text!r} is not an ISO 8601 time") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _read_summary(path: Path, command: str = "greenlight drift") -> str:
    if not path.is_file():
        raise MissingInputError(f"{path} not found: run `{command}` first")
    return path.read_text(encoding="utf-8")
