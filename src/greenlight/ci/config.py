"""Which of the optional settings a team has configured, and what to do about each one it has not.

A fresh copy of the template has none of them, and every workflow must still finish green and say
so: `greenlight ci config --need <setting>` writes `<setting>=true|false` to $GITHUB_OUTPUT (the
steps that need it run only when true) and, for each one missing, a notice naming what to
configure to $GITHUB_STEP_SUMMARY and as a `::notice::` annotation. A missing setting is never a
red X and never a silent pass: the gate still refuses a model that was not reproduced."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from greenlight.errors import ConfigError, GreenlightError

TEAM_REMOTE = "team"
DVC_TIMEOUT_S = 60


@dataclass(frozen=True)
class Setting:
    key: str
    what: str  # what is missing, as a noun phrase
    effect: str  # what the job does without it
    how: str  # what to configure


@dataclass(frozen=True)
class Context:
    """What a setting is judged from: the environment and the DVC remotes of the checkout."""

    env: Mapping[str, str]
    remotes: Mapping[str, str]  # name -> URL
    drift_source: str  # drift.source of params.yaml


def _team_remote(context: Context) -> bool:
    return TEAM_REMOTE in context.remotes


def _cluster(context: Context) -> bool:
    return bool(context.env.get("KUBE_API_SERVER"))


def _container_host(context: Context) -> bool:
    return bool(context.env.get("DEPLOY_DOCKER_HOST"))


def _log_source(context: Context) -> bool:
    """An explicit DRIFT_SOURCE, or drift.source: a URL, or a folder of a remote that exists."""
    source = context.env.get("DRIFT_SOURCE") or context.drift_source
    if source.startswith("remote://"):
        return source.removeprefix("remote://").split("/", 1)[0] in context.remotes
    return bool(source)


SETTINGS: dict[str, tuple[Setting, Callable[[Context], bool]]] = {
    "team_remote": (
        Setting(
            "team_remote",
            "no team DVC remote",
            "pipeline outputs and the run-cache are neither restored nor pushed; every stage is "
            "recomputed and nothing can be deployed",
            "run `make remote URL=s3://<bucket>/<prefix>` and commit .dvc/config; set the "
            "repository variables DVC_REMOTE_REGION, DVC_REMOTE_READ_ROLE (pull requests, drift: "
            "read only) and DVC_REMOTE_ROLE (main, deploy: read and write), AWS roles trusting "
            "this repository through OIDC",
        ),
        _team_remote,
    ),
    "cluster": (
        Setting(
            "cluster",
            "no cluster",
            "the image is built, pushed and attested, but not rolled out",
            "set the `production` environment's variables KUBE_API_SERVER and KUBE_CA_CERT, and "
            "KUBE_OIDC_AUDIENCE (OIDC) or the secret KUBE_TOKEN",
        ),
        _cluster,
    ),
    "container_host": (
        Setting(
            "container_host",
            "no container host",
            "the image is built, pushed and attested, but not rolled out",
            "set the `production` environment's secrets DEPLOY_DOCKER_HOST (ssh://user@host), "
            "DEPLOY_SSH_KEY (a private key that host accepts) and DEPLOY_KNOWN_HOSTS (its line "
            "from `ssh-keyscan`); the host needs docker, haproxy and greenlight on PATH",
        ),
        _container_host,
    ),
    "log_source": (
        Setting(
            "log_source",
            "no prediction-log source",
            "neither drift nor live performance is measured",
            "configure the team remote (`make remote`; the deployment ships its logs to "
            "remote://team/prediction-logs), or set the repository variable DRIFT_SOURCE or "
            "drift.source in params.yaml to where the logs are",
        ),
        _log_source,
    ),
}


def setting(key: str) -> tuple[Setting, Callable[[Context], bool]]:
    if key not in SETTINGS:
        raise ConfigError(f"unknown setting {key!r}: one of {', '.join(sorted(SETTINGS))}")
    return SETTINGS[key]


def configured(keys: list[str], context: Context) -> dict[str, bool]:
    return {key: setting(key)[1](context) for key in keys}


def notice(key: str) -> str:
    """The Markdown the job summary gets for a missing setting."""
    found = setting(key)[0]
    return (
        f"> [!NOTE]\n> **greenlight: {found.what}.** Without it, {found.effect}.\n"
        f"> To configure: {found.how}.\n"
    )


def annotation(key: str) -> str:
    found = setting(key)[0]
    return f"::notice title=greenlight: {found.what}::{found.effect}. To configure: {found.how}."


def outputs(found: Mapping[str, bool]) -> str:
    return "".join(f"{key}={str(value).lower()}\n" for key, value in found.items())


def dvc_remotes(repo: Path = Path(), dvc: str = "dvc") -> dict[str, str]:
    """`dvc remote list` of the checkout: name -> URL."""
    command = [dvc, "remote", "list"]
    done = subprocess.run(
        command, cwd=repo, capture_output=True, text=True, check=False, timeout=DVC_TIMEOUT_S
    )
    if done.returncode != 0:
        raise GreenlightError(f"dvc remote list failed in {repo}: {done.stderr.strip()}")
    pairs = (line.split(maxsplit=1) for line in done.stdout.splitlines() if line.strip())
    return {pair[0]: (pair[1] if len(pair) > 1 else "") for pair in pairs}
