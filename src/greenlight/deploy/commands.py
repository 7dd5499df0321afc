"""`greenlight deploy`: roll a version out blue/green (`--target local|docker|kubernetes`), or
beside the live one in an A/B split (`--split N`: HAProxy weights on local and docker, the
HTTPRoute's weights on kubernetes), and the `status`,
`decide`, `rollback`, `summary` and `down` subcommands. cli.py adds this Typer as `deploy`.
Importing this module is cheap; each command imports the controller when it runs.

Exit codes (greenlight.errors.ExitCode): 0 the version is live (or splitting, or the split goes
on), 1 it was rejected or rolled back (the audit log says why), 2 bad input (no bundle, missing
credentials, --image for local, decide on kubernetes without --verdict), 4 the infrastructure failed
(HAProxy, the cluster, the container engine, another deployment running)."""

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
    from greenlight.deploy.decide import Verdict
    from greenlight.deploy.settings import DeploySettings
    from greenlight.deploy.targets.base import Slot, Target, TargetState
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
SplitOption = Annotated[
    int | None,
    typer.Option(
        "--split",
        min=1,
        max=99,
        help="A/B: the new version takes this % of traffic beside the live one (default "
        "deploy.split.percent; kubernetes: by the HTTPRoute's weights); `greenlight deploy "
        "decide` ends the split.",
    ),
]
SensitiveOption = Annotated[
    Path | None,
    typer.Option(
        "--sensitive",
        help="Separate sensitive-attribute store (request_id, record, attributes; CSV or JSON "
        "Lines) for the per-variant fairness differences; absent: no fairness figures.",
    ),
]


@app.callback()
def deploy(
    ctx: typer.Context,
    *,
    target: TargetOption = TargetChoice.local,
    bundle: BundleOption = BUNDLE,
    image: ImageOption = None,
    params: ParamsOption = DEFAULT_PARAMS,
    split: SplitOption = None,
) -> None:
    """Deploy the bundle (local) or the image built from it (kubernetes, docker) to the idle one."""
    if ctx.invoked_subcommand is not None:
        return
    from greenlight.deploy import runner  # noqa: PLC0415

    percent = _split_for(split, _settings(params).deploy.split.percent)
    candidate = runner.bundle_candidate(bundle, _image_for(target, image))
    with runner.open_target(target.value, _settings(params).deploy) as opened:
        outcome = _controller(opened, params).deploy(candidate, split=percent)
    _finish(outcome)


def _split_for(given: int | None, configured: int | None) -> int | None:
    """--split, else deploy.split.percent."""
    return given if given is not None else configured


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


MetricsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--metrics-file",
        help="Also write the split's per-variant figures here, in Prometheus' text format "
        "(for the node exporter's textfile collector).",
    ),
]


@app.command()
def status(
    target: TargetOption = TargetChoice.local,
    params: ParamsOption = DEFAULT_PARAMS,
    sensitive: SensitiveOption = None,
    metrics_file: MetricsFileOption = None,
) -> None:
    """The live color, what each color runs, a split's per-variant figures, the latest audit."""
    from greenlight.deploy import runner  # noqa: PLC0415
    from greenlight.deploy.audit import read_entries  # noqa: PLC0415

    settings = _settings(params).deploy
    with runner.open_target(target.value, settings, restart_only=True) as opened:
        state = opened.state()
        split = _split_json(opened, settings, sensitive, metrics_file) or _split_bare(state)
    slots = {color: _slot_json(slot) for color, slot in state.slots.items()}
    shown: dict[str, object] = {"target": target.value, "live": state.live, "colors": slots}
    shown.update({"router": state.router} if state.router else {})
    typer.echo(json.dumps({**shown, "split": split} if split else shown, indent=2))
    for entry in read_entries(settings.audit_log)[-10:]:
        typer.echo(entry.line())


def _split_bare(state: TargetState) -> dict[str, object] | None:
    """The split in progress without per-variant figures (kubernetes: the pods keep the logs)."""
    split = state.split
    return None if split is None else {**split.__dict__, "variants": None}


def _split_json(
    target: Target, settings: DeploySettings, sensitive: Path | None, metrics_file: Path | None
) -> dict[str, object] | None:
    """The split in progress with both variants' figures (local, docker); None: no split."""
    from greenlight.deploy.split import Decision, prometheus_text, split_status  # noqa: PLC0415
    from greenlight.deploy.targets.proxied import ProxiedTarget  # noqa: PLC0415
    from greenlight.files import write_text  # noqa: PLC0415

    if not isinstance(target, ProxiedTarget):
        return None
    decision = Decision(target, settings, sensitive, echo=None)
    shown = split_status(decision)
    if metrics_file is not None:
        split = target.current_split()
        live = target.state().live
        figures = decision.figures(split, live) if split and live else {}
        write_text(metrics_file, prometheus_text(figures))
    return shown


IfSplittingOption = Annotated[
    bool,
    typer.Option(
        "--if-splitting",
        help="No split in progress is a notice and exit 0, not bad input (the scheduled job).",
    ),
]


class VerdictChoice(StrEnum):
    promote = "promote"
    rollback = "rollback"


VerdictOption = Annotated[
    VerdictChoice | None,
    typer.Option(
        "--verdict",
        help="kubernetes (required there, refused elsewhere): a person's verdict on the split, "
        "audited like an automatic one; its pods keep the logs the automatic decision reads.",
    ),
]


@app.command()
def decide(
    target: TargetOption = TargetChoice.local,
    params: ParamsOption = DEFAULT_PARAMS,
    sensitive: SensitiveOption = None,
    verdict: VerdictOption = None,
    if_splitting: IfSplittingOption = False,
) -> None:
    """End an A/B split, or keep it: promote the candidate, roll it back, or keep splitting, by
    the per-variant outcomes (deploy.split in params), or on kubernetes by --verdict. Exit 1 on
    a rollback, 0 otherwise."""
    settings = _settings(params).deploy
    if target is TargetChoice.kubernetes:
        decided = _decided_by_hand(settings, verdict, sensitive)
    else:
        decided = _decided(target, settings, sensitive, verdict, if_splitting)
    if decided is None:
        typer.echo("no split in progress: nothing to decide")
        return
    typer.echo(f"{decided.action}: {decided.reason}")
    if decided.action == "rollback":
        raise typer.Exit(ExitCode.CHECK_FAILED)


def _decided_by_hand(
    settings: DeploySettings, verdict: VerdictChoice | None, sensitive: Path | None
) -> Verdict:
    """kubernetes: the verdict a person gives (--verdict), audited, then carried out."""
    from greenlight.deploy import runner  # noqa: PLC0415
    from greenlight.deploy.controller import DeployError  # noqa: PLC0415
    from greenlight.deploy.ending import ManualDecision  # noqa: PLC0415

    if verdict is None or sensitive is not None:
        raise DeployError(
            "deploy decide --target kubernetes takes --verdict promote|rollback (and no "
            "--sensitive): the pods keep the prediction and outcome logs the figures need"
        )
    from greenlight.deploy.targets.kubernetes import KubernetesTarget  # noqa: PLC0415

    with runner.open_target("kubernetes", settings) as opened:
        if not isinstance(opened, KubernetesTarget):  # it is; for the type checker
            raise typer.Exit(ExitCode.BAD_INPUT)
        return ManualDecision(opened, settings, verdict.value).run()


def _decided(
    target: TargetChoice,
    settings: DeploySettings,
    sensitive: Path | None,
    verdict: VerdictChoice | None,
    if_splitting: bool,
) -> Verdict | None:
    """The figures' verdict (local, docker); None when `if_splitting` and no split runs."""
    from greenlight.deploy import runner  # noqa: PLC0415
    from greenlight.deploy.controller import DeployError  # noqa: PLC0415
    from greenlight.deploy.split import Decision  # noqa: PLC0415
    from greenlight.deploy.targets.proxied import ProxiedTarget  # noqa: PLC0415

    if verdict is not None:
        raise DeployError(f"--verdict is for --target kubernetes; {target} decides by the figures")
    with runner.open_target(target.value, settings, restart_only=True) as opened:
        if not isinstance(opened, ProxiedTarget):  # local and docker are; for the type checker
            raise typer.Exit(ExitCode.BAD_INPUT)
        if if_splitting and opened.current_split() is None:
            return None
        return Decision(opened, settings, sensitive).run()


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
    from greenlight.settings import resolve_serving  # noqa: PLC0415

    tolerance = resolve_serving(params).known_answer_tolerance
    return Controller(target, _settings(params).deploy, known_answer_tolerance=tolerance)


def _finish(outcome: Outcome) -> None:
    typer.echo(f"{outcome.decision}: {outcome.reason}")
    if not outcome.ok:
        raise typer.Exit(ExitCode.CHECK_FAILED)
