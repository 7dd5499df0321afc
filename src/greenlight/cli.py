"""`greenlight <command>`: one command per pipeline stage (what dvc.yaml calls) plus the tools
around it. Commands import their stage lazily so `greenlight gate` does not pay for torch.

Every command exits by the one contract of `greenlight.errors.ExitCode` (HELP below); a
GreenlightError becomes its one-line message on stderr and its class's code here, in
`GreenlightGroup`, for every command and subcommand alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from greenlight.ci import commands as ci_commands
from greenlight.config import load_params
from greenlight.deploy import commands as deploy_commands
from greenlight.errors import ExitCode, GreenlightError
from greenlight.monitor import commands as monitor_commands
from greenlight.monitor import outcome_commands
from greenlight.serving import commands as serving_commands
from greenlight.settings_base import DEFAULT_PARAMS

HELP = "\n".join(
    [
        "greenlight: validate, train, evaluate, gate and ship a tabular model.",
        "",
        "Exit codes, the same for every command:",
        "0 ok;",
        "1 a check failed or a rollback happened (gate, ref or image check, rejected deploy);",
        "2 bad input or config (params.yaml, data, a model file, an option, a variable); a "
        "params file's problem reads `error: <file>: <dotted.key>: <problem>`, e.g. "
        "`error: params.yaml: train.hgb.max_itr: Extra inputs are not permitted`;",
        "3 drift or a performance degradation found (drift, monitor performance);",
        "4 infrastructure unavailable or failed mid-operation (cluster, proxy, container "
        "engine, registry, GitHub): the input may be fine, a retry can succeed.",
    ]
)


class GreenlightGroup(TyperGroup):
    """The top-level group: every command runs inside its invoke, so this is the one place a
    GreenlightError turns into a message and an exit code (no traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GreenlightError as error:
            typer.echo(error.shown(), err=True)
            raise typer.Exit(error.exit_code) from error


app = typer.Typer(
    cls=GreenlightGroup,
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ParamsOption = Annotated[Path, typer.Option("--params", help="Pipeline parameters file.")]


def _echo(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


# The pipeline's stages in dvc.yaml's order: `greenlight <stage>` runs `bin/stage <stage>`'s code.
STAGES = {
    "validate": "Check the raw data against the dataset contract; write typed copies.",
    "featurize": "Split train/valid/test and fit the preprocessor on train only.",
    "train": "Fit the model named by train.model and write models/bundle.",
    "evaluate": "Score the test split: metrics, plots, permutation importance.",
    "fairness": "Group metrics and parity/odds differences for every sensitive attribute.",
    "explain": "Mean absolute feature contributions on the test split, overall and per sensitive "
    "group.",
    "card": "Write the model card (reports/model_card.md).",
}


def _add_stage(name: str, summary: str) -> None:
    def stage(params: ParamsOption = DEFAULT_PARAMS) -> None:
        from greenlight.stages.runner import run_stage  # noqa: PLC0415

        _echo(run_stage(name, params))

    stage.__doc__ = summary
    app.command(name)(stage)


for _name, _summary in STAGES.items():
    _add_stage(_name, _summary)


@app.command()
def gate(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Exit 1 unless every metric and fairness difference meets params.yaml."""
    from greenlight.stages import gate as stage  # noqa: PLC0415

    checks = stage.run(load_params(params))
    for check in checks:
        typer.echo(check.describe())
    failed = stage.failures(checks)
    if failed:
        typer.echo(f"gate FAILED: {'; '.join(check.describe() for check in failed)}", err=True)
        raise typer.Exit(ExitCode.CHECK_FAILED)
    typer.echo(f"gate passed: {len(checks)} checks")


@app.command("check-lock")
def check_lock(
    ref: Annotated[str, typer.Option(help="The commit whose dvc.lock is checked.")] = "HEAD",
) -> None:
    """Exit 1 unless the committed dvc.lock matches the one `dvc repro` just wrote."""
    from greenlight import lockcheck  # noqa: PLC0415

    stale = lockcheck.check(ref=ref)
    if stale:
        typer.echo(
            f"{lockcheck.verdict(stale)}. The committed dvc.lock ({ref}) does not match what "
            "`dvc repro` produced: run `dvc repro`, commit dvc.lock and `dvc push` its outputs.",
            err=True,
        )
        raise typer.Exit(ExitCode.CHECK_FAILED)
    typer.echo(f"dvc.lock at {ref} matches what the repro produced, byte for byte")


@app.command()
def report(
    base: Annotated[str, typer.Option(help="Git ref to compare with: the PR's base.")] = (
        "origin/main"
    ),
    output: Annotated[Path, typer.Option(help="Where to write the comment.")] = Path(
        "reports/pr_comment.md"
    ),
    params: ParamsOption = DEFAULT_PARAMS,
    base_bundle: Annotated[
        Path | None,
        typer.Option(help="The base's model bundle; default: read from DVC at the base commit."),
    ] = None,
) -> None:
    """Write the pull-request comment (verdict, metrics, behaviour, charts, fairness,
    explanations, data, cost vs the base) and the list of PNGs the workflow keeps."""
    from greenlight import report as pr_report  # noqa: PLC0415

    inputs = pr_report.gather(
        load_params(params), base, params_path=params, base_bundle_dir=base_bundle
    )
    markdown = pr_report.write(inputs, output)
    typer.echo(f"{output} written: {markdown.splitlines()[0].lstrip('# ')}")


app.command()(serving_commands.serve)
app.command()(serving_commands.bento)
app.command()(serving_commands.containerize)
app.command()(serving_commands.wheelhouse)
app.command("image-lock")(serving_commands.image_lock)
app.command("image-sbom")(serving_commands.image_sbom)
app.add_typer(monitor_commands.app)  # drift, drift-fetch, drift-issue
app.add_typer(outcome_commands.outcomes, name="outcomes")  # import
app.add_typer(outcome_commands.monitor, name="monitor")  # performance
app.add_typer(deploy_commands.app, name="deploy")  # deploy, status, rollback, summary, down
app.add_typer(ci_commands.app)  # pr-comment
app.add_typer(ci_commands.ci, name="ci")  # check-ref, check-image, config


def main() -> None:
    """Console entry point (`greenlight`); GreenlightGroup maps errors to exit codes."""
    app()
