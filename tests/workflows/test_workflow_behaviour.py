"""What the workflows do, asked of the files themselves: the job graph and every `if:` evaluated
(tests/workflows/gha.py) for same-repository and fork pull requests, with and without the
repository's variables, and the make targets a job runs executed or dry-run. No test pins a step's
position or the YAML's wording: reorder or rename freely, as long as the behaviour holds."""

from __future__ import annotations

import os
import subprocess

import pytest
from gha import event, interpolate, job_context, load, simulate, step_env, steps_of

from conftest import ROOT

GPU = '["self-hosted", "linux", "gpu"]'
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def make(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "REPRO_"))}
    command = ["make", "-s", "--no-print-directory", *args]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env={**clean, **env}, check=False,
        timeout=120,
    )  # fmt: skip


def make_targets(job: dict) -> list[str]:
    return [step["run"].split()[1] for step in job.get("steps", []) if "run" in step]


def job_running(workflow: dict, target: str) -> str:
    """The job whose steps run `make <target>` (one per workflow, whatever it is called)."""
    found = [name for name, job in workflow["jobs"].items() if target in make_targets(job)]
    assert len(found) == 1, f"{target}: {found}"
    return found[0]


# --- pr.yml ----------------------------------------------------------------------------------

PR = load("pr.yml")
REPRO = job_running(PR, "pr-repro")
GATE = job_running(PR, "pr-require-repro")
COMMENT = job_running(PR, "pr-comment")


def gate_verdict(run_context: dict, run) -> subprocess.CompletedProcess[str]:
    """Run the gate job's command with the environment its step would get."""
    job = PR["jobs"][GATE]
    context = job_context(run, job, run_context)
    step = next(s for s in steps_of(job, context, {}) if "pr-require-repro" in s.get("run", ""))
    return make("pr-require-repro", **step_env(PR, job, step, context))


def test_a_same_repository_pull_request_is_reproduced_commented_and_gated() -> None:
    context = event("pull_request")
    run = simulate(PR, context, outputs={REPRO: {"report": "123"}})
    assert run.ran(REPRO) and run.ran(COMMENT) and run.ran(GATE)
    verdict = gate_verdict(context, run)
    assert verdict.returncode == 0, verdict.stderr


def test_a_fork_pull_request_is_never_reproduced_and_the_gate_is_red_saying_why() -> None:
    context = event("pull_request", head="stranger/shop", variables={"GREENLIGHT_GPU_RUNNER": GPU})
    run = simulate(PR, context)
    assert not run.ran(REPRO) and not run.ran(COMMENT)
    assert run.ran(GATE)
    verdict = gate_verdict(context, run)
    assert verdict.returncode != 0 and "fork" in verdict.stderr


def test_a_failed_gate_still_posts_the_comment_and_stays_red() -> None:
    context = event("pull_request")
    run = simulate(PR, context, results={REPRO: "failure"}, outputs={REPRO: {"report": "123"}})
    assert run.ran(COMMENT)
    verdict = gate_verdict(context, run)
    assert verdict.returncode != 0 and "ended 'failure'" in verdict.stderr


def test_a_repro_that_died_before_its_report_posts_no_comment_and_is_red() -> None:
    context = event("pull_request")
    run = simulate(PR, context, results={REPRO: "failure"}, outputs={REPRO: {}})
    assert not run.ran(COMMENT)
    assert gate_verdict(context, run).returncode != 0


def runner_of(job: dict, variables: dict[str, str]) -> tuple[object, str]:
    context = event("pull_request", variables=variables)
    labels = interpolate(job["runs-on"], context)
    torch = step_env({}, job, {}, context).get("TORCH_INDEX", "")
    return labels, torch


@pytest.mark.parametrize("workflow", ["pr.yml", "main.yml"])
def test_repro_runs_on_a_hosted_cpu_runner_until_a_variable_names_the_gpu_runner(workflow) -> None:
    loaded = load(workflow)
    job = loaded["jobs"][
        job_running(loaded, "pr-repro" if workflow == "pr.yml" else "push-run-cache")
    ]
    assert runner_of(job, {}) == ("ubuntu-latest", CPU_INDEX)
    assert runner_of(job, {"GREENLIGHT_GPU_RUNNER": GPU}) == (["self-hosted", "linux", "gpu"], "")


def test_no_self_hosted_job_of_a_pull_request_runs_for_a_fork() -> None:
    for variables in ({}, {"GREENLIGHT_GPU_RUNNER": GPU}):
        context = event("pull_request", head="stranger/shop", variables=variables)
        run = simulate(PR, context)
        for name, job in PR["jobs"].items():
            labels = interpolate(job.get("runs-on", ""), context)
            labels = [labels] if isinstance(labels, str) else labels
            assert "self-hosted" not in labels or not run.ran(name), name


def test_the_pull_request_reads_the_team_remote_with_the_read_role_only() -> None:
    job = PR["jobs"][REPRO]
    for variables, expected in (({}, set()), ({"DVC_REMOTE_READ_ROLE": "arn:read"}, {"arn:read"})):
        context = event("pull_request", variables=variables)
        ran = steps_of(job, context, {})
        credentials = [s for s in ran if "configure-aws-credentials" in s.get("uses", "")]
        roles = {interpolate(s["with"]["role-to-assume"], context) for s in credentials}
        assert roles == expected


@pytest.mark.parametrize(
    "target", sorted({t for j in PR["jobs"].values() for t in make_targets(j)})
)
def test_no_pull_request_step_pushes_to_a_dvc_remote(target: str) -> None:
    """Dry-run every make target a pull request runs: none may push to a DVC remote."""
    done = make("-n", target, PR_BASE="HEAD")
    assert done.returncode == 0, done.stderr
    assert "dvc push" not in done.stdout and "dvc exp push" not in done.stdout, target


def test_the_pull_request_repro_says_when_no_team_remote_is_configured_then_recomputes() -> None:
    recipe = make("-n", "pr-repro").stdout
    notice = recipe.index("greenlight ci config --need team_remote")
    assert notice < recipe.index("dvc repro --pull")


# --- main.yml --------------------------------------------------------------------------------

MAIN = load("main.yml")
PUSH = job_running(MAIN, "push-run-cache")


def test_main_pushes_and_deploys_only_with_a_team_remote() -> None:
    context = event("push", variables={"DVC_REMOTE_ROLE": "arn:write"})
    for configured in ("true", "false"):
        job = MAIN["jobs"][PUSH]
        targets = [
            s["run"].split()[1]
            for s in steps_of(job, context, {"config": {"team_remote": configured}})
            if "run" in s
        ]
        assert ("push-run-cache" in targets) == (configured == "true")
        run = simulate(MAIN, context, outputs={PUSH: {"team_remote": configured}})
        deploy = [n for n, j in MAIN["jobs"].items() if "deploy.yml" in str(j.get("uses", ""))]
        assert deploy and all(run.ran(n) == (configured == "true") for n in deploy)


def test_the_push_writes_what_dvc_lock_names_after_checking_it() -> None:
    recipe = make("-n", "push-run-cache").stdout
    assert recipe.index("greenlight check-lock") < recipe.index("dvc push --run-cache")


# --- deploy.yml ------------------------------------------------------------------------------

DEPLOY = load("deploy.yml")
CHECK = job_running(DEPLOY, "deploy-check-ref")
BUILD = job_running(DEPLOY, "deploy-image")
ROLLOUT = job_running(DEPLOY, "deploy-kubernetes")
DIGEST = "ghcr.io/acme/shop@sha256:" + "ab" * 32


def writes(job: dict) -> set[str]:
    return {scope for scope, level in job.get("permissions", {}).items() if level == "write"}


@pytest.mark.parametrize(
    "inputs",
    [{"ref": "feature"}, {"ref": "", "rollback_image": DIGEST}, {"ref": "refs/pull/1/head"}],
)
def test_no_job_with_a_write_grant_runs_when_the_ref_check_fails(inputs) -> None:
    run = simulate(DEPLOY, event("workflow_dispatch", inputs=inputs), results={CHECK: "failure"})
    for name, job in DEPLOY["jobs"].items():
        if writes(job):
            assert not run.ran(name), f"{name} ({writes(job)}) ran after a failed check"


def test_the_ref_check_holds_no_write_grant_and_runs_first() -> None:
    assert DEPLOY["jobs"][CHECK]["permissions"] == {"contents": "read"}
    assert not DEPLOY["jobs"][CHECK].get("needs")


def test_a_rollback_redeploys_the_checked_digest_and_builds_nothing() -> None:
    context = event("workflow_dispatch", inputs={"ref": "", "rollback_image": DIGEST})
    run = simulate(DEPLOY, context, outputs={CHECK: {"sha": "c" * 40, "image": DIGEST}})
    assert not run.ran(BUILD) and run.ran(ROLLOUT)
    job = DEPLOY["jobs"][ROLLOUT]
    env = step_env(DEPLOY, job, {}, job_context(run, job, context))
    assert env["IMAGE"] == DIGEST


def test_a_deployment_builds_then_rolls_out_the_image_it_built() -> None:
    context = event("workflow_call", inputs={"ref": "a" * 40})
    built = "ghcr.io/acme/shop@sha256:" + "cd" * 32
    run = simulate(DEPLOY, context, outputs={CHECK: {"sha": "a" * 40}, BUILD: {"image": built}})
    assert run.ran(BUILD) and run.ran(ROLLOUT)
    job = DEPLOY["jobs"][ROLLOUT]
    assert step_env(DEPLOY, job, {}, job_context(run, job, context))["IMAGE"] == built


def test_every_later_job_checks_out_the_sha_the_check_resolved_and_the_rollout_waits() -> None:
    context = event("workflow_dispatch", inputs={"ref": "main"})
    sha = "e" * 40
    run = simulate(DEPLOY, context, outputs={CHECK: {"sha": sha}, BUILD: {"image": DIGEST}})
    for name in (BUILD, ROLLOUT):
        job = DEPLOY["jobs"][name]
        checkout = next(s for s in job["steps"] if "actions/checkout@" in s.get("uses", ""))
        assert interpolate(checkout["with"]["ref"], job_context(run, job, context)) == sha, name
    assert DEPLOY["jobs"][ROLLOUT]["environment"] == "production"  # required reviewers approve


def test_a_failed_build_rolls_nothing_out() -> None:
    context = event("workflow_call", inputs={"ref": "a" * 40})
    assert not simulate(DEPLOY, context, results={BUILD: "failure"}).ran(ROLLOUT)


def test_only_the_rollout_is_serialised_so_a_pending_approval_blocks_no_build() -> None:
    assert "concurrency" not in DEPLOY
    assert DEPLOY["jobs"][ROLLOUT]["concurrency"]["cancel-in-progress"] is False
    assert "concurrency" not in DEPLOY["jobs"][BUILD]


def test_the_registry_login_lasts_until_the_attestation_is_pushed() -> None:
    """Walk the build job's steps: the first one whose make recipe logs out comes after the step
    that pushes the attestation to the registry, and the push itself does not log out."""
    steps = DEPLOY["jobs"][BUILD]["steps"]
    attest = next(
        i for i, s in enumerate(steps) if s.get("with", {}).get("push-to-registry") is True
    )
    recipes = [make("-n", s["run"].split()[1]).stdout if "run" in s else "" for s in steps]
    logins = [i for i, recipe in enumerate(recipes) if "docker login" in recipe]
    logouts = [i for i, recipe in enumerate(recipes) if "docker logout" in recipe]
    assert logins and logins[0] < attest
    assert logouts and min(logouts) > attest
    assert DEPLOY["jobs"][BUILD]["steps"][min(logouts)].get("if") == "always()"


def test_the_sbom_is_made_from_the_built_image_and_attested_to_its_pushed_digest() -> None:
    """`make deploy-sbom` writes the SBOM attest-sbom reads, after the build and before the push;
    attest-sbom names the pushed digest and pushes beside it while the login lasts."""
    steps = DEPLOY["jobs"][BUILD]["steps"]
    runs = [s.get("run", "").split()[1] if "run" in s else "" for s in steps]
    sbom = next(i for i, s in enumerate(steps) if "actions/attest-sbom@" in s.get("uses", ""))
    made = runs.index("deploy-sbom")
    assert runs.index("deploy-image") < made < runs.index("deploy-push") < sbom
    assert sbom < runs.index("deploy-logout")
    attest = steps[sbom]["with"]
    assert attest["subject-digest"] == "${{ steps.push.outputs.digest }}"
    assert attest["subject-name"] == "${{ steps.push.outputs.name }}"
    assert attest["push-to-registry"] is True
    recipe = make("-n", "deploy-sbom").stdout
    assert f"--output {attest['sbom-path']}" in recipe
    assert "image-sbom --engine docker --image" in recipe
    assert {"id-token", "attestations"} <= writes(DEPLOY["jobs"][BUILD])
    for name, job in DEPLOY["jobs"].items():
        assert name == BUILD or "attestations" not in job.get("permissions", {}), name


def rollout_steps(variables: dict[str, str], config: dict[str, str]) -> list[dict]:
    """The rollout job's steps that run, its `env` (DEPLOY_TARGET...) as GitHub evaluates it."""
    context = event("workflow_call", inputs={"ref": "a" * 40}, variables=variables)
    run = simulate(DEPLOY, context, outputs={CHECK: {"sha": "a" * 40}, BUILD: {"image": DIGEST}})
    job = DEPLOY["jobs"][ROLLOUT]
    full = job_context(run, job, context)
    full = {**full, "env": step_env(DEPLOY, job, {}, full)}
    return steps_of(job, full, {"config": config})


def ran_targets(steps: list[dict]) -> list[str]:
    return [step["run"].split()[1] for step in steps if "run" in step]


def test_without_a_cluster_the_rollout_says_so_and_touches_nothing() -> None:
    ran = ran_targets(rollout_steps({}, {"cluster": "false"}))
    assert "deploy-config" in ran and "deploy-kubernetes" not in ran
    assert "deploy-docker" not in ran and "deploy-summary" not in ran


@pytest.mark.parametrize(
    ("variables", "config", "rolls_out"),
    [
        ({}, {"cluster": "true"}, "deploy-kubernetes"),  # the default target
        ({"DEPLOY_TARGET": "kubernetes"}, {"cluster": "true"}, "deploy-kubernetes"),
        ({"DEPLOY_TARGET": "docker"}, {"container_host": "true"}, "deploy-docker"),
        (
            {"DEPLOY_TARGET": "docker"},
            {"container_host": "true", "cluster": "true"},
            "deploy-docker",
        ),
        ({"DEPLOY_TARGET": "docker"}, {"container_host": "false"}, None),
    ],
)
def test_the_repository_variable_chooses_the_target(
    variables: dict[str, str], config: dict[str, str], rolls_out: str | None
) -> None:
    ran = ran_targets(rollout_steps(variables, config))
    rollouts = [target for target in ran if target in {"deploy-kubernetes", "deploy-docker"}]
    assert rollouts == ([rolls_out] if rolls_out else [])
    assert ("deploy-summary" in ran) == (rolls_out is not None)


def test_the_target_choice_is_checked_by_make_and_a_wrong_one_fails() -> None:
    job = DEPLOY["jobs"][ROLLOUT]
    context = event("workflow_call", variables={"DEPLOY_TARGET": "docker"})
    assert step_env(DEPLOY, job, {}, context)["DEPLOY_TARGET"] == "docker"
    assert step_env(DEPLOY, job, {}, event("workflow_call"))["DEPLOY_TARGET"] == "kubernetes"
    done = make("deploy-config", DEPLOY_TARGET="dockr")
    assert done.returncode == 2 and "must be kubernetes or docker" in done.stderr


def test_only_the_docker_step_sees_the_ssh_key_and_it_comes_from_the_environment() -> None:
    """The key and the host's known key are `production` secrets, given to that one step."""
    job = DEPLOY["jobs"][ROLLOUT]
    assert job["environment"] == "production"
    docker_steps = [s for s in job["steps"] if "deploy-docker" in s.get("run", "")]
    assert len(docker_steps) == 1
    env = docker_steps[0]["env"]
    for name in ("DEPLOY_DOCKER_HOST", "DEPLOY_SSH_KEY", "DEPLOY_KNOWN_HOSTS"):
        assert env[name] == f"${{{{ secrets.{name} }}}}", name
    others = [s for s in job["steps"] if s is not docker_steps[0]]
    assert not any("DEPLOY_SSH_KEY" in str(s) for s in others) and "DEPLOY_SSH_KEY" not in str(
        job.get("env")
    )


def test_the_rollout_reads_the_bundle_with_the_team_remote_s_read_only_role() -> None:
    """`make deploy-docker` and `make deploy-kubernetes` dvc pull the bundle (its manifest holds
    the smoke test's known answers): without credentials the pull fails (make rehearse found it)."""
    steps = DEPLOY["jobs"][ROLLOUT]["steps"]
    logins = [n for n, s in enumerate(steps) if "configure-aws-credentials" in s.get("uses", "")]
    rollouts = [n for n, s in enumerate(steps) if "make deploy-" in s.get("run", "")]
    pulling = [
        n for n in rollouts if steps[n]["run"].split()[1] in ("deploy-docker", "deploy-kubernetes")
    ]
    assert logins and pulling and logins[0] < min(pulling)
    assert steps[logins[0]]["with"]["role-to-assume"] == "${{ vars.DVC_REMOTE_READ_ROLE }}"
    for target in ("deploy-docker", "deploy-kubernetes"):
        assert "dvc pull models/bundle" in make("-n", target, IMAGE="x@sha256:" + "0" * 64).stdout


def test_the_build_checks_what_it_pulled_against_dvc_lock() -> None:
    recipe = make("-n", "deploy-image").stdout
    assert recipe.index("dvc pull models/bundle") < recipe.index(
        "greenlight ci check-pulled models/bundle"
    )
    assert recipe.index("check-pulled") < recipe.index("greenlight containerize")
    assert recipe.index("greenlight wheelhouse") < recipe.index("greenlight containerize")


# --- drift.yml -------------------------------------------------------------------------------

DRIFT = load("drift.yml")
DETECT = job_running(DRIFT, "drift-ci")


@pytest.mark.parametrize(
    ("configured", "fetched", "measured"),
    [("false", "", False), ("true", "false", False), ("true", "true", True)],
)
def test_drift_without_a_log_source_or_a_shipped_log_says_so_and_finishes(
    configured: str, fetched: str, measured: bool
) -> None:
    """Nothing configured, or a team remote no deployment has shipped to yet: no red X."""
    context = event("schedule")
    job = DRIFT["jobs"][DETECT]
    outputs = {"config": {"log_source": configured}, "fetch": {"fetched": fetched}}
    ran = [s["run"].split()[1] for s in steps_of(job, context, outputs) if "run" in s]
    assert "ci-config" in ran
    assert ("drift-fetch-ci" in ran) == (configured == "true")
    assert ("drift-ci" in ran) == measured
    run = simulate(DRIFT, context, outputs={DETECT: {} if not measured else {"drift": "true"}})
    assert all(run.ran(n) == measured for n in DRIFT["jobs"] if n != DETECT and "retrain" not in n)


# --- performance.yml -------------------------------------------------------------------------

PERFORMANCE = load("performance.yml")
MEASURE = job_running(PERFORMANCE, "performance-ci")
PERFORMANCE_ISSUE = job_running(PERFORMANCE, "performance-issue")


@pytest.mark.parametrize(
    ("configured", "outcomes", "predictions", "measured"),
    [
        ("false", "", "", False),
        ("true", "false", "", False),
        ("true", "true", "false", False),
        ("true", "true", "true", True),
    ],
)
def test_performance_without_a_source_or_shipped_logs_says_so_and_finishes(
    configured: str, outcomes: str, predictions: str, measured: bool
) -> None:
    """No source, no outcome log or no prediction log shipped yet: notices, no red X, no issue."""
    context = event("schedule")
    job = PERFORMANCE["jobs"][MEASURE]
    fetched = {"outcomes-fetch-ci": outcomes, "drift-fetch-ci": predictions}
    steps = [step for step in job["steps"] if "run" in step]
    ids = {step["run"].split()[1]: step.get("id") for step in steps}
    outputs = {"config": {"log_source": configured}}
    outputs |= {ids[target]: {"fetched": value} for target, value in fetched.items()}
    ran = [s["run"].split()[1] for s in steps_of(job, context, outputs) if "run" in s]
    assert "ci-config" in ran
    assert ("outcomes-fetch-ci" in ran) == (configured == "true")
    assert ("performance-ci" in ran) == ("drift-inputs" in ran) == measured
    run = simulate(
        PERFORMANCE, context, outputs={MEASURE: {"degraded": "" if not measured else "false"}}
    )
    assert not run.ran(PERFORMANCE_ISSUE)


@pytest.mark.parametrize("degraded", ["true", "false"])
def test_only_a_degradation_opens_or_updates_the_performance_issue(degraded: str) -> None:
    for context in (event("schedule"), event("workflow_dispatch", inputs={"source": "s3://b/l"})):
        run = simulate(PERFORMANCE, context, outputs={MEASURE: {"degraded": degraded}})
        assert run.ran(MEASURE) and run.ran(PERFORMANCE_ISSUE) == (degraded == "true")


def test_the_issue_token_reaches_only_the_job_that_opens_the_issue() -> None:
    writers = [
        name
        for name, job in PERFORMANCE["jobs"].items()
        if job.get("permissions", {}).get("issues") == "write" or "github.token" in str(job)
    ]
    assert writers == [PERFORMANCE_ISSUE]


@pytest.mark.parametrize(("exit_code", "passes"), [(0, True), (3, True), (2, False), (4, False)])
def test_performance_ci_takes_a_degradation_as_an_outcome_and_fails_on_anything_else(
    tmp_path, exit_code: int, passes: bool
) -> None:
    """`make performance-ci` around a stand-in greenlight that exits as told."""
    fake = tmp_path / "bin" / "greenlight"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$*" > "$GITHUB_OUTPUT"\nexit "$FAKE_EXIT"\n')
    fake.chmod(0o755)
    output = tmp_path / "output"
    done = make(
        "-o", "setup", f"VENV={tmp_path}", "performance-ci",
        FAKE_EXIT=str(exit_code), GITHUB_OUTPUT=str(output),
    )  # fmt: skip
    assert (done.returncode == 0) == passes, done.stderr
    assert output.read_text().split()[:3] == ["monitor", "performance", "--github-output"]
