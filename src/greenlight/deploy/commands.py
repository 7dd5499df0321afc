"""`greenlight deploy`: roll a version out blue/green (`--target local|kubernetes`), and the
`status`, `rollback`, `summary` and `down` subcommands. cli.py adds this Typer as `deploy`.
Importing this module is cheap; each command imports the controller when it runs.

Exit codes (greenlight.errors.ExitCode): 0 the version is live, 1 it was rejected or rolled back
(the audit log says why), 2 bad input (no bundle, missing credentials, --image for local), 4 the
infrastructure failed (HAProxy, the cluster, the container engine, another deployment running)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from greenlight.errors import ExitCode
from greenlight.paths import BUNDLE
from greenlight.settings_base import DEFAULT_PARAMS

if TYPE_CHECKING:
    from greenlight.deploy.controller import Controller, Outcome
    from greenlight.deploy.settings import DeploySettings
    from greenlight.deploy.targets.base import Slot, Target
    from greenlight.settings import Settings

app = typer.Typer(
    name="deploy",
    help="Blue/green deployment: start beside the live version, smoke-test, switch, watch.",
    invoke_without_command=True,
    no_args_is_help=False,
)


class TargetChoice(StrEnum):
    local = "local"
    kubernetes = "kubernetes"
    docker = "docker"


TargetOption = Annotated[TargetChoice, typer.Option("--target", help="Where to deploy.")]
ParamsOption = Annotated[Path, typer.Option("--params", help="Parameters file (deploy: section).")]
BundleOption = Annotated[
    Path, typer.Option("--bundle", help="Model bundle: what runs (local), its manifest (image).")
]
ImageOption = Annotated[
    str | None, typer.Option("--image", help="Image reference, e.g. ghcr.io/o/r@sha256:... .")
]


@app.callback()
def deploy(
    ctx: typer.Context,
    target: TargetOption = TargetChoice.local,
    bundle: BundleOption = BUNDLE,
    image: ImageOption = None,
    params: ParamsOption = DEFAULT_PARAMS,
) -> None:
    """Deploy the bundle (local) or the image built from it (kubernetes, docker) to the idle one."""
    if ctx.invoked_subcommand is not None:
        return
    from greenlight.deploy import runner  # noqa: PLC0415

    candidate = runner.bundle_candidate(bundle, _image_for(target, image))
    with runner.open_target(target.value, _settings(params).deploy) as opened:
        outcome = _controller(opened, params).deploy(candidate)
    _finish(outcome)


def _image_for(target: TargetChoice, image: str | None) -> str | None:
    from greenlight.deploy.controller import DeployError  # noqa: PLC0415

    if target is not TargetChoice.local and not image:
        raise DeployError(f"--target {target} needs --image (the reference the build pushed)")
    if target is TargetChoice.local and image:
        raise DeployError("--image is for --target kubernetes|docker; local runs --bundle")
    return image


@app.command()
def rollback(
    target: TargetOption = TargetChoice.local,
    bundle: BundleOption = BUNDLE,
    params: ParamsOption = DEFAULT_PARAMS,
) -> None:
    """Bring back the previous version (the one the idle color holds), with the same gates."""
    from greenlight.deploy import runner  # noqa: PLC0415

    answers = runner.answers_lookup(target.value, bundle)
    with runner.open_target(target.value, _settings(params).deploy) as opened:
        outcome = _controller(opened, params).rollback(answers)
    _finish(outcome)


@app.command()
def status(
    target: TargetOption = TargetChoice.local, params: ParamsOption = DEFAULT_PARAMS
) -> None:
    """The live color, what each color runs, and the latest audit entries."""
    from greenlight.deploy import runner  # noqa: PLC0415
    from greenlight.deploy.audit import read_entries  # noqa: PLC0415

    settings = _settings(params).deploy
    with runner.open_target(target.value, settings) as opened:
        state = opened.state()
    slots = {color: _slot_json(slot) for color, slot in state.slots.items()}
    shown = {"target": target.value, "live": state.live, "colors": slots}
    typer.echo(json.dumps({**shown, "router": state.router} if state.router else shown, indent=2))
    for entry in read_entries(settings.audit_log)[-10:]:
        typer.echo(entry.line())


def _slot_json(slot: Slot) -> dict[str, object]:
    shown = {"release": slot.release.__dict__ if slot.release else None, "running": slot.running}
    return {**shown, "condition": slot.condition} if slot.condition else shown


@app.command()
def summary(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Markdown of the latest run in the audit log (version, previous, smoke, decision)."""
    from greenlight.deploy.audit import read_entries  # noqa: PLC0415
    from greenlight.deploy.summary import render_summary  # noqa: PLC0415

    typer.echo(render_summary(read_entries(_settings(params).deploy.audit_log)))


@app.command()
def down(target: TargetOption = TargetChoice.local, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Stop the local or docker target: both colors and HAProxy (releases stay recorded)."""
    if target is TargetChoice.kubernetes:
        from greenlight.deploy.controller import DeployError  # noqa: PLC0415

        raise DeployError("`deploy down` is for --target local|docker; scale a cluster yourself")
    settings = _settings(params).deploy
    done = _down_docker(settings) if target is TargetChoice.docker else _down_local(settings)
    from greenlight.deploy.audit import AuditLog  # noqa: PLC0415

    AuditLog(settings.audit_log, target=target.value).record("down", "ok", done)


def _down_local(settings: DeploySettings) -> str:
    from greenlight.deploy.targets.local import open_local  # noqa: PLC0415

    with open_local(settings.local, start_proxy=False) as target:
        killed = target.down()
    forced = f"; SIGKILLed {killed} after {settings.local.stop_grace_s:g} s" if killed else ""
    return f"stopped HAProxy and both colors' process trees{forced}"


def _down_docker(settings: DeploySettings) -> str:
    from greenlight.deploy.targets.docker import open_docker  # noqa: PLC0415

    with open_docker(settings.docker, start_proxy=False) as target:
        removed = target.down()
    return f"stopped HAProxy; removed {', '.join(removed) or 'no container or volume'}"


def _settings(params: Path) -> Settings:
    """The file's sections (deploy runs where no params.yaml is, and never needs the schema)."""
    from greenlight.settings import load_settings  # noqa: PLC0415

    return load_settings(params, with_dataset=False, missing_ok=True)


def _controller(target: Target, params: Path) -> Controller:
    """The smoke test judges the known answers with the tolerance the service's warm-up uses."""
    from greenlight.deploy.controller import Controller  # noqa: PLC0415
    from greenlight.serving.settings import resolve  # noqa: PLC0415

    tolerance = resolve(params).known_answer_tolerance
    return Controller(target, _settings(params).deploy, known_answer_tolerance=tolerance)


def _finish(outcome: Outcome) -> None:
    typer.echo(f"{outcome.decision}: {outcome.reason}")
    if not outcome.ok:
        raise typer.Exit(ExitCode.CHECK_FAILED)
