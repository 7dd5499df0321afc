"""The CI commands: `greenlight pr-comment` (merged into `greenlight`) and `greenlight ci ...`.
Each reads what Actions sets ($GITHUB_EVENT_PATH, $GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY) and works
the same outside Actions, where those files simply are not written."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from greenlight.ci.step_files import append
from greenlight.settings_base import DEFAULT_PARAMS

if TYPE_CHECKING:
    from greenlight.ci.config import Context

app = typer.Typer()  # merged into `greenlight`: pr-comment
ci = typer.Typer(help="What the workflows check: refs, images, configured settings.")

OutputOption = Annotated[
    Path | None, typer.Option(envvar="GITHUB_OUTPUT", help="Append key=value lines here.")
]
SummaryOption = Annotated[
    Path | None, typer.Option(envvar="GITHUB_STEP_SUMMARY", help="Append Markdown notices here.")
]


@app.command("pr-comment")
def pr_comment(
    body: Annotated[Path, typer.Option(help="The report to post.")] = Path("reports/pr_comment.md"),
    pr: Annotated[
        int | None, typer.Option(help="Pull request number (default: from GITHUB_EVENT_PATH).")
    ] = None,
) -> None:
    """Post the report as the pull request's one comment, edited on every push (GITHUB_TOKEN:
    pull-requests write; GITHUB_REPOSITORY, GITHUB_API_URL)."""
    from greenlight import prcomment  # noqa: PLC0415
    from greenlight.github import GitHub  # noqa: PLC0415

    number = pr if pr is not None else prcomment.pr_number(os.environ.get("GITHUB_EVENT_PATH"))
    report = prcomment.read_report(body)
    posted = prcomment.post_report(GitHub.from_env(), number, report)
    typer.echo(posted.describe(number))


@ci.command("check-ref")
def check_ref(
    ref: Annotated[str, typer.Argument(help="The commit (or ref) to deploy.")],
    branch: Annotated[str, typer.Option(help="It must be on this branch.")] = "origin/main",
    workflow_ref: Annotated[
        str | None, typer.Option(help="The run's own ref (GITHUB_REF): must be refs/heads/main.")
    ] = None,
    github_output: OutputOption = None,
) -> None:
    """Exit 1 unless REF is a commit on the deploy branch; write sha=<full sha> to GITHUB_OUTPUT."""
    from greenlight.ci.refs import check_ref, check_workflow_ref  # noqa: PLC0415

    if workflow_ref is not None:
        check_workflow_ref(workflow_ref)
    sha = check_ref(ref, branch)
    append(github_output, f"sha={sha}\n")
    typer.echo(f"{ref} is {sha}, a commit on {branch}")


@ci.command("check-image")
def check_image(
    image: Annotated[str, typer.Argument(help="<image>@sha256:<digest> to roll back to.")],
    name: Annotated[str, typer.Option(help="This repository's image name.")],
    github_output: OutputOption = None,
) -> None:
    """Exit 1 unless IMAGE is a digest of this repository's image; write image= to GITHUB_OUTPUT."""
    from greenlight.ci.refs import check_image  # noqa: PLC0415

    found = check_image(image, name)
    append(github_output, f"image={found}\n")
    typer.echo(f"rolling back to {found}: redeployed as built, not rebuilt")


@ci.command("config")
def config(
    need: Annotated[list[str], typer.Option(help="A setting this job needs (repeatable).")],
    params: Annotated[Path, typer.Option("--params", help="Pipeline parameters.")] = DEFAULT_PARAMS,
    github_output: OutputOption = None,
    summary: SummaryOption = None,
) -> None:
    """Write <setting>=true|false for each needed setting, and a notice for each one missing."""
    from greenlight.ci import config as settings  # noqa: PLC0415

    found = settings.configured(need, _context(params))
    append(github_output, settings.outputs(found))
    for key, present in found.items():
        typer.echo(f"{key}: {'configured' if present else 'not configured'}")
        if not present:
            append(summary, settings.notice(key))
            typer.echo(settings.annotation(key))


@ci.command("check-pulled")
def check_pulled(
    path: Annotated[str, typer.Argument(help="A DVC output, e.g. models/bundle.")],
) -> None:
    """Exit 1 unless PATH in the workspace is, hash for hash, what the committed dvc.lock names."""
    from greenlight.ci.pulled import check_pulled  # noqa: PLC0415

    check_pulled(path, dvc=_dvc())
    typer.echo(f"{path} is what dvc.lock names, hash for hash")


def _dvc() -> str:
    beside = Path(sys.executable).with_name("dvc")  # the virtualenv's dvc, else the one on PATH
    return str(beside) if beside.is_file() else "dvc"


def _context(params: Path) -> Context:
    from greenlight.ci.config import Context, dvc_remotes  # noqa: PLC0415
    from greenlight.settings import load_settings  # noqa: PLC0415

    source = load_settings(params, with_dataset=False).drift.source
    return Context(env=os.environ, remotes=dvc_remotes(dvc=_dvc()), drift_source=source)
