"""The rehearsal's report: step by step, with timings, as Markdown (reports/rehearsal.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from tools.rehearsal.act import ActRun
from tools.rehearsal.scenario import Scenario

NOT_REHEARSED = [
    "the `lint` and `test` jobs of pr.yml (cut from the rehearsed copy of the workflow, every "
    "other line unchanged; `make test` runs both before the rehearsal; REHEARSE_ALL_JOBS=1 keeps "
    "them)",
    "the `production` environment as GitHub enforces it (act ignores `environment:`): the "
    "rehearsal's runner shell holds the rollout job before its first step until the harness, as "
    "the reviewer, approves; the environment's secrets are handed to the whole act run (on "
    "GitHub only the rollout job gets them), and main.yml's call of deploy.yml gets `secrets: "
    "inherit` in the rehearsed copy (act passes a called workflow no secret otherwise)",
    "act's skipped jobs: act gives a skipped job's outputs as their unevaluated `${{ ... }}` "
    "text (nektos/act#2467), so the rollback dispatch runs a copy of deploy.yml without the "
    "skipped build job's `outputs:` (on GitHub they are empty), every other line unchanged",
    "deploy.yml's attestation: skipped, the stand-in of actions/attest-build-provenance records "
    "the subject only (signing needs Sigstore and an OIDC token, neither is offline; nothing is "
    "pushed to the registry beside the image)",
    "GHCR and Docker Hub: the image is pushed to the local registry 127.0.0.1:5000 (the "
    "Makefile's IMAGE_NAME and REGISTRY set in the runner's environment; `docker login` to a "
    "registry without authentication) and built on the local Debian base (BASE_IMAGE)",
    "the container host over ssh: DEPLOY_DOCKER_HOST is the local engine's unix:// socket (a "
    "runner on the container host), so DEPLOY_SSH_KEY and DEPLOY_KNOWN_HOSTS are not used",
    "`permissions:` enforcement and the token's scopes (act ignores them; the stand-in accepts "
    "its one token for every call): least privilege stays checked statically in tests/workflows/",
    "OIDC: configure-aws-credentials' stand-in hands out the local store's keys, no token exchange",
    "`concurrency:` groups and cancellation (act ignores them)",
    "GitHub-hosted runner images: every job runs on this machine (host mode), with its Python",
    "the deployment's shipping of prediction logs: played in the developer's clone "
    "(tools/rehearsal/traffic.py, then `make ship-logs`); no workflow ships the containers' logs",
]


def _job_seconds(run: ActRun, job: str) -> str:
    try:
        start = datetime.fromisoformat(run.started[job])
        end = datetime.fromisoformat(run.finished[job])
    except (KeyError, ValueError):
        return "-"
    return f"{(end - start).total_seconds():.0f} s"


def _run_table(run: ActRun) -> list[str]:
    lines = [
        f"`act {run.event}` on `{run.workflow}` (run {run.run_id}, {run.seconds:.1f} s, "
        f"exit {run.code}):",
        "",
        "| job | result | time |",
        "|---|---|---|",
    ]
    for job in sorted(set(run.jobs) | set(run.started)):
        lines.append(f"| {job} | {run.result(job)} | {_job_seconds(run, job)} |")
    return [*lines, ""]


def render(scenario: Scenario, total_s: float, header: dict[str, str]) -> str:
    passed = sum(step.ok for step in scenario.steps)
    known = [step for step in scenario.steps if step.known and not step.ok]
    verdict = "PASSED" if all(step.counts for step in scenario.steps) else "FAILED"
    lines = [
        "# Rehearsal of the GitOps loop (`make rehearse`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        + "; ".join(f"{key} {value}" for key, value in header.items()),
        "",
        f"**{verdict}**: {passed} of {len(scenario.steps)} steps, {total_s:.0f} s in all"
        + (f"; {len(known)} known failure(s), reported below." if known else "."),
        "",
        "## Figures",
        "",
        "| what | measured |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in scenario.figures.items()],
        "",
        "## Steps",
        "",
    ]
    for number, step in enumerate(scenario.steps, 1):
        mark = "ok" if step.ok else "**FAILED**" + (" (known)" if step.known else "")
        lines += [f"### {number}. {step.name}: {mark} ({step.seconds:.0f} s)", ""]
        if step.error:
            lines += [f"Failed: {step.error}", ""]
        if step.known and not step.ok:
            lines += [f"Known, reported, not fixed yet: {step.known}.", ""]
        if step.known and step.ok:
            lines += ["This known failure passes now: remove its reason from scenario.py.", ""]
        lines += [f"- {fact}" for fact in step.facts] + [""]
        for run in step.runs:
            lines += _run_table(run)
    lines += ["## Not rehearsed", "", *[f"- {item}" for item in NOT_REHEARSED]]
    lines += [f"- {note}" for note in scenario.notes]
    return "\n".join(lines) + "\n"
