"""The rehearsal's scenario: each step drives one real workflow with act, or plays the developer
in the scratch checkout, and asserts what GitHub would show afterwards."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from tools.rehearsal import deploy_leg
from tools.rehearsal.act import ActRun, inheriting_secrets, without_jobs, without_outputs
from tools.rehearsal.deploy_leg import Watch, watching
from tools.rehearsal.github_api import GitHubStandIn
from tools.rehearsal.world import BUCKET, NAME, OWNER, REPOSITORY, S3, World

REMOTE_PREFIX = "greenlight"  # the team remote is s3://greenlight-team/greenlight
# The jobs cut from the rehearsed copy of a workflow (every other line unchanged): pr.yml's lint
# and test suites, which `make test` runs anyway and which would take most of the time budget on
# two cores (REHEARSE_ALL_JOBS=1 keeps them).
CUT_JOBS = {"pr.yml": {"lint", "test"}}
SLOW_JOBS = {"lint", "test"}
# The calls of a workflow that get `secrets: inherit` in the rehearsed copy (act gives a called
# workflow no secret otherwise, where GitHub gives GITHUB_TOKEN and the environment's secrets).
INHERIT_SECRETS = {"main.yml": {"deploy"}}
# ... and main.yml's call of deploy.yml, cut only where this machine has no container engine and
# registry (.ci/services.sh starts them, as root): its build would fail without them.
DEPLOY_JOBS = {"main.yml": {"deploy"}}
IMAGE_LINE = re.compile(r"^image=(?P<ref>\S+@(?P<digest>sha256:[0-9a-f]{64}))\s*$", re.M)
STAGE_LINE = re.compile(
    r"(Running stage '(?P<ran>[\w-]+)')"
    r"|(Pulling data for stage: '(?P<pulled>[\w-]+)')"
    r"|(Stage '(?P<same>[\w-]+)' didn't change, skipping)"
    r"|(Stage '(?P<cached>[\w-]+)' is cached - skipping run, checking out outputs)"
)
# The performance leg: the team's labels file and the outcome log it is imported into (params.yaml
# monitor.performance.outcome_log).
LABELS, OUTCOME_LOG = "logs/labels.csv", "logs/outcomes.jsonl"
COMMENT_MARK = "<!-- greenlight:pr-report -->"  # greenlight pr-comment's marker line
# The pull request's change, on its branch.
BRANCH = "tune-logreg-c"
PARAM_BEFORE, PARAM_AFTER = "logreg: {C: 1.0,", "logreg: {C: 2.0,"
# ... and its second push: the fairness intervals' resamples (fairness and card re-run).
RESAMPLES_BEFORE, RESAMPLES_AFTER = "resamples: 1000,", "resamples: 500,"
# The developer's (and the deployment's) own credentials for the team remote.
DEVELOPER_AWS = {"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal-secret"}
# What a team sets in the repository's variables once its remote exists (main.yml's OIDC role).
TEAM_VARIABLES = {
    "DVC_REMOTE_ROLE": "arn:aws:iam::000000000000:role/greenlight-dvc-write",
    "DVC_REMOTE_READ_ROLE": "arn:aws:iam::000000000000:role/greenlight-dvc-read",
    "DVC_REMOTE_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Monitor:
    """A monitor workflow as the rehearsal dispatches it: the job that measures, its inputs, and
    the words of the line in that job's log that gives the verdict."""

    workflow: str
    job: str
    inputs: Mapping[str, object]
    verdict: str


DRIFT_MONITOR = Monitor("drift.yml", "detect", {"source": "", "retrain": False}, "features drifted")
PERFORMANCE_MONITOR = Monitor("performance.yml", "measure", {"source": ""}, "labelled predictions")


class StepFailed(AssertionError):
    """One assertion of the scenario did not hold; the message says what was seen."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise StepFailed(message)


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    ok: bool = True
    facts: list[str] = field(default_factory=list)
    runs: list[ActRun] = field(default_factory=list)
    error: str = ""
    known: str = ""  # a failure found by the rehearsal and reported, not yet fixed: why

    @property
    def counts(self) -> bool:
        """Whether it fails the rehearsal: a known failure is reported but does not."""
        return self.ok or bool(self.known)


def first_words(summary: str) -> str:
    """The first line of a job summary that says something (not a `> [!NOTE]` marker)."""
    for line in summary.splitlines():
        words = line.lstrip("> ").strip()
        if words and not words.startswith("[!"):
            return words[:220]
    return ""


def stage_outcomes(text: str) -> dict[str, str]:
    """Stage -> ran / pulled / unchanged / run-cache, from `dvc repro --pull`'s output. A stage
    whose dvc.lock entry matches is pulled (its outputs from the remote) and then says nothing."""
    found: dict[str, str] = {}
    for match in STAGE_LINE.finditer(text):
        if match.group("ran"):
            found[match.group("ran")] = "ran"
        elif match.group("pulled"):
            found.setdefault(match.group("pulled"), "pulled from the remote")
        elif match.group("same"):
            found.setdefault(match.group("same"), "unchanged (outputs pulled)")
        else:
            found[match.group("cached")] = "run-cache"
    return found


def job_seconds(run: ActRun, job: str) -> float:
    """From the job's first log line to its result (0 for a job that did not run)."""
    try:
        start = datetime.fromisoformat(run.started[job])
        return (datetime.fromisoformat(run.finished[job]) - start).total_seconds()
    except (KeyError, ValueError):
        return 0.0


def _repository() -> dict:
    return {
        "full_name": REPOSITORY,
        "name": NAME,
        "owner": {"login": OWNER},
        "default_branch": "main",
        "fork": False,
        "private": False,
    }


@dataclass
class Scenario:
    world: World
    all_jobs: bool = False
    steps: list[Step] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)  # repository variables set
    notes: list[str] = field(default_factory=list)
    pr: int = 0  # the same-repository pull request, once opened
    drift_inputs_pulled: bool = False
    images: list[tuple[str, str]] = field(default_factory=list)  # (image@digest, commit) deployed
    deploy_skipped: str = ""  # why the deploy leg cannot run here, if it cannot
    deploy_seconds: float = 0.0  # the deploy jobs' time, all runs together

    # plumbing
    @property
    def github(self) -> GitHubStandIn:
        if self.world.github is None:
            raise RuntimeError("the GitHub stand-in is not running")
        return self.world.github

    @property
    def s3(self) -> S3:
        if self.world.s3 is None:
            raise RuntimeError("the S3 store is not running")
        return self.world.s3

    def step(self, name: str, body: Callable[[Step], None], known: str = "") -> Step:
        current = Step(name, known=known)
        self.steps.append(current)
        start = time.monotonic()
        print(f"==> {name}", flush=True)
        try:
            body(current)
        except (StepFailed, RuntimeError, OSError) as failure:  # a failed step; the rest go on
            current.ok, current.error = False, f"{type(failure).__name__}: {failure}"
        current.seconds = time.monotonic() - start
        mark = "ok" if current.ok else f"FAILED: {current.error}"
        if current.known:
            mark += f" (known: {current.known})" if not current.ok else " (known failure fixed?)"
        print(f"    {current.seconds:6.1f} s  {mark}", flush=True)
        for fact in current.facts:
            print(f"      - {fact}", flush=True)
        return current

    def workflow(self, name: str, skipped: set[str] | None = None) -> Path:
        """The workflow file act reads: the scratch checkout's own, or with the slow jobs cut (and
        the outputs of the jobs this run skips, act#2467)."""
        path = self.world.repo / ".github" / "workflows" / name
        text = path.read_text()
        jobs = set(yaml.safe_load(text)["jobs"])
        cut = CUT_JOBS.get(name, set()) - (SLOW_JOBS if self.all_jobs else set())
        cut |= DEPLOY_JOBS.get(name, set()) if self.deploy_skipped else set()
        cut &= jobs
        inherit = INHERIT_SECRETS.get(name, set()) & jobs
        if not cut and not inherit and not skipped:
            return path
        trimmed = self.world.work / "workflows" / name
        trimmed.parent.mkdir(parents=True, exist_ok=True)
        text = without_jobs(text, cut) if cut else text
        for job in sorted(skipped or set()):
            text = without_outputs(text, job)
        trimmed.write_text(inheriting_secrets(text, inherit) if inherit else text)
        return trimmed

    def act(
        self, current: Step, name: str, event: str, payload: dict, skipped: set[str] | None = None
    ) -> ActRun:
        workflow = self.workflow(name, skipped)
        run = self.world.need_act().run(workflow, event, payload, self.variables)
        current.runs.append(run)
        jobs = ", ".join(f"{job} {result}" for job, result in sorted(run.jobs.items()))
        current.facts.append(f"act {event} {name}: {run.seconds:.1f} s; jobs: {jobs or 'none'}")
        check(run.code != 124, f"act ran past its timeout ({run.log})")
        return run

    def s3_keys(self, prefix: str = "") -> list[str]:
        return self.s3.keys(BUCKET, f"{REMOTE_PREFIX}/{prefix}")

    # events
    def push_event(self, before: str, after: str) -> dict:
        return {
            "ref": "refs/heads/main",
            "before": before,
            "after": after,
            "repository": _repository(),
            "pusher": {"name": "alice"},
            "sender": {"login": "alice"},
            "head_commit": {"id": after, "message": self.world.git("log", "-1", "--format=%s")},
        }

    def pull_request_event(self, number: int, action: str, head: str, fork: bool) -> dict:
        head_repo = f"mallory/{NAME}" if fork else REPOSITORY
        return {
            "action": action,
            "number": number,
            "pull_request": {
                "number": number,
                "title": f"pull request {number}",
                "html_url": f"https://github.com/{REPOSITORY}/pull/{number}",
                "head": {
                    "ref": head,
                    "sha": self.world.sha(head),
                    "repo": {"full_name": head_repo, "fork": fork},
                },
                "base": {"ref": "main", "sha": self.world.sha("main"), "repo": _repository()},
            },
            "repository": _repository(),
            "sender": {"login": "mallory" if fork else "alice"},
        }

    def checkout_merge(self, number: int, head: str) -> str:
        """What GitHub checks out for a pull request: refs/pull/N/merge, head merged into base.
        The scratch checkout is left on it, so act's local checkout copies exactly that tree."""
        git = self.world.git
        git("checkout", "-q", "--detach", "main")
        git("merge", "-q", "--no-ff", "--no-edit", "-m", f"Merge {head} into main", head)
        merge = self.world.sha()
        self.world.push(f"{head}:refs/pull/{number}/head", f"{merge}:refs/pull/{number}/merge")
        return merge

    def pr_comment_calls(self, number: int, since: float) -> dict[str, int]:
        calls = [c for c in self.github.calls() if c.time >= since and c.status < 400]
        created = [
            c for c in calls if c.method == "POST" and c.path.endswith(f"/{number}/comments")
        ]
        edited = [c for c in calls if c.method == "PATCH" and "/issues/comments/" in c.path]
        return {"created": len(created), "edited": len(edited)}

    def remote_has_outputs(self, current: Step, label: str) -> None:
        """Every cached output dvc.lock names (validate, featurize, train: the data, the split,
        the preprocessor, the model bundle), and run-cache entries, are in the S3 store."""
        lock = yaml.safe_load((self.world.repo / "dvc.lock").read_text())
        keys = set(self.s3_keys())
        missing, named = [], 0
        for stage in ("validate", "featurize", "train"):
            for out in lock["stages"][stage]["outs"]:
                if out["path"].startswith("reports/"):  # metrics, `cache: false`: in git
                    continue
                digest = out["md5"]
                named += 1
                if f"{REMOTE_PREFIX}/files/md5/{digest[:2]}/{digest[2:]}" not in keys:
                    missing.append(f"{out['path']} ({digest})")
        check(not missing, f"{label}: not in the team remote: {', '.join(missing)}")
        runs = sorted(k for k in keys if k.startswith(f"{REMOTE_PREFIX}/runs/"))
        check(runs, f"{label}: no run-cache entry (runs/...) in the team remote")
        current.facts.append(
            f"team remote after {label}: {len(keys)} objects, {len(runs)} run-cache entries; "
            f"all {named} cached outputs dvc.lock names for validate, featurize, train present"
        )

    # the steps
    def configure_remote(self, current: Step) -> None:
        """The team's one-time setup: `make remote URL=... ENDPOINT=...`, committed to main; and
        the repository variables a team sets for OIDC (the stand-in checks they are there)."""
        url = f"s3://{BUCKET}/{REMOTE_PREFIX}"
        endpoint = self.s3.endpoint
        if re.search(r"^remote:", (self.world.repo / "Makefile").read_text(), re.M):
            code, text = self.world.make("remote", f"URL={url}", f"ENDPOINT={endpoint}")
            check(code == 0, f"make remote failed: {text.strip()[-400:]}")
            current.facts.append(f"make remote URL={url} ENDPOINT={endpoint}")
        else:
            self.notes.append("the Makefile has no `remote` target: configured with dvc directly")
            dvc = str(self.world.repo / ".venv" / "bin" / "dvc")
            for argv in (
                ["remote", "add", "-d", "team", url],
                ["remote", "modify", "team", "endpointurl", endpoint],
            ):
                done = subprocess.run(
                    [dvc, *argv],
                    cwd=self.world.repo,
                    env=self.world.git.env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                check(done.returncode == 0, f"dvc {' '.join(argv)}: {done.stderr[-300:]}")
            current.facts.append(f"dvc remote add -d team {url} (endpointurl {endpoint})")
        self.world.git("add", "-A")
        self.world.git("commit", "-q", "-m", "Configure the team DVC remote")
        config = (self.world.repo / ".dvc" / "config").read_text()
        check('remote "team"' in config, ".dvc/config names no remote 'team'")
        self.variables |= TEAM_VARIABLES
        current.facts.append(f"repository variables: {TEAM_VARIABLES}")

    def push_main(self, current: Step, label: str) -> ActRun:
        before = self.world.git("ls-remote", str(self.world.origin), "refs/heads/main")
        before = before.split()[0] if before else "0" * 40
        self.world.git("checkout", "-q", "main")
        self.world.push("main:refs/heads/main")
        keys_before = set(self.s3_keys())
        event = self.push_event(before, self.world.sha())
        with watching(self.world, load=self.deploys) as watch:
            run = self.act(current, "main.yml", "push", event)
        self.figures[f"main.yml ({label})"] = f"{run.seconds:.0f} s"
        failed = [job for job, result in run.jobs.items() if result != "success"]
        check(run.jobs and not failed, f"main.yml jobs not green: {run.jobs} (log {run.log})")
        for job in run.jobs:
            outcomes = stage_outcomes(run.text(job))
            if outcomes:
                current.facts.append(f"{job} stages: {outcomes}")
                self.count_hits(label, outcomes)
        new = set(self.s3_keys()) - keys_before
        current.facts.append(f"{len(new)} objects pushed to the team remote")
        self.remote_has_outputs(current, label)
        if self.deploys:
            self.deployed(current, run, watch, label)
        return run

    # the deploy leg
    @property
    def deploys(self) -> bool:
        """Whether the team configured its container host (main.yml then deploys)."""
        return "DEPLOY_TARGET" in self.variables

    def configure_production(self, current: Step) -> None:
        """The team's container host: DEPLOY_TARGET=docker, and the `production` environment's
        secret DEPLOY_DOCKER_HOST (the engine's socket: a runner on the container host)."""
        self.deploy_skipped = deploy_leg.host_problem(self.world)
        if self.deploy_skipped:
            self.notes.append(f"the deploy leg was skipped: {self.deploy_skipped}")
            current.facts.append(f"skipped (main.yml's deploy cut): {self.deploy_skipped}")
            return
        self.variables |= deploy_leg.DEPLOY_VARIABLES
        self.world.need_act().secrets |= deploy_leg.PRODUCTION_SECRETS
        current.facts.append(f"repository variables: {deploy_leg.DEPLOY_VARIABLES}")
        current.facts.append(
            f"`production` environment: secrets {sorted(deploy_leg.PRODUCTION_SECRETS)}, reviewer "
            f"{deploy_leg.REVIEWER} (played by the rehearsal at the gate of the job that names it)"
        )
        left = deploy_leg.target_leftovers(self.world)
        check(not left, f"the container host is not clean before the first deploy: {left}")

    def approved(self, current: Step, watch: Watch) -> None:
        jobs = [approval.job for approval in watch.approvals]
        check(jobs == ["rollout"], f"approvals at the production gate: {jobs}, not [rollout]")
        approval = watch.approvals[0]
        current.facts.append(
            f"production gate: `rollout` held {approval.waited_s:.1f} s before its first step, "
            f"approved by {deploy_leg.REVIEWER}; the registry then held tags {approval.tags}"
        )

    def served_under_load(self, current: Step, watch: Watch, label: str, live: bool) -> None:
        tally = watch.tally
        check(tally is not None, "no load ran")
        current.facts.append(f"load on HAProxy 127.0.0.1:{deploy_leg.PROXY_PORT}: {tally.line()}")
        self.figures[f"requests failed during the rollout ({label})"] = (
            f"{tally.failed} of {tally.ok + tally.failed}"
        )
        check(tally.failed == 0, f"{tally.failed} requests failed: {tally.failures[:5]}")
        check(not live or tally.ok, "no request was answered although a version was live")

    def live_is(self, current: Step, reference: str) -> None:
        color, release = deploy_leg.live_release(self.world)
        current.facts.append(f"live: {color}, {release[:300]}")
        digest = reference.rsplit("@", 1)[1]
        check(digest in release, f"the live color {color!r} does not run {digest}: {release}")

    def count_deploy_time(self, run: ActRun, label: str) -> None:
        """The deploy jobs' time in this run (what the deploy leg adds), and the image build's."""
        seconds = sum(job_seconds(run, job) for job in ("check", "build", "rollout"))
        self.deploy_seconds += seconds
        builds = [step["seconds"] for step in run.steps if step["job"] == "build"]
        build = f"; image build step {max(builds):.0f} s" if builds else ""
        self.figures[f"deploy.yml jobs ({label})"] = f"{seconds:.0f} s{build}"
        self.figures["deploy leg in all (its jobs, the rehearsal's extra time)"] = (
            f"{self.deploy_seconds:.0f} s"
        )

    def deployed(self, current: Step, run: ActRun, watch: Watch, label: str) -> None:
        found = IMAGE_LINE.search(run.text("build"))
        check(found, f"the build job printed no image=<name>@<digest> (log {run.log})")
        reference, digest = found.group("ref"), found.group("digest")
        check(deploy_leg.registry_has(digest), f"the registry has no {digest}")
        current.facts.append(f"built and pushed {reference}")
        self.approved(current, watch)
        self.live_is(current, reference)
        self.served_under_load(current, watch, label, live=bool(self.images))
        self.images.append((reference, self.world.sha("main")))
        self.count_deploy_time(run, label)

    def rollback(self, current: Step) -> None:
        """workflow_dispatch of deploy.yml with the first image's digest: no build, the same
        gate, the same blue/green steps, under load."""
        check(not self.deploy_skipped, f"skipped: {self.deploy_skipped}")
        check(len(self.images) >= 2, f"{len(self.images)} images deployed, not two")
        reference, commit = self.images[0]
        self.world.git("checkout", "-q", "main")
        payload = {"inputs": {"ref": commit, "rollback_image": reference}, "ref": "refs/heads/main"}
        payload |= {"repository": _repository(), "sender": {"login": "alice"}}
        with watching(self.world, load=True) as watch:
            run = self.act(current, "deploy.yml", "workflow_dispatch", payload, skipped={"build"})
        self.figures["deploy.yml (rollback, dispatched)"] = f"{run.seconds:.0f} s"
        results = {job: run.result(job) for job in ("check", "build", "rollout")}
        wanted = {"check": "success", "build": "skipped", "rollout": "success"}
        check(results == wanted, f"rollback jobs {results}, not {wanted} (log {run.log})")
        self.approved(current, watch)
        self.live_is(current, reference)
        self.served_under_load(current, watch, "rollback", live=True)
        self.count_deploy_time(run, "rollback")

    def take_down(self, current: Step) -> None:
        check(not self.deploy_skipped, f"skipped: {self.deploy_skipped}")
        greenlight = str(self.world.repo / ".venv" / "bin" / "greenlight")
        code, text = deploy_leg.host_command(
            self.world, greenlight, "deploy", "down", "--target", "docker"
        )
        check(code == 0, f"greenlight deploy down --target docker: {text[-400:]}")
        current.facts.append(f"greenlight deploy down --target docker: {text.strip()[-300:]}")
        left = deploy_leg.target_leftovers(self.world)
        check(not left, f"left behind: {left}")
        current.facts.append("no container, volume or proxy of the target left")

    def clean_up(self) -> None:
        """Whatever happened: nothing of the target left on the container host."""
        if not self.deploys:
            return
        try:
            if deploy_leg.target_leftovers(self.world):
                greenlight = str(self.world.repo / ".venv" / "bin" / "greenlight")
                deploy_leg.host_command(
                    self.world, greenlight, "deploy", "down", "--target", "docker"
                )
        except (RuntimeError, OSError, subprocess.SubprocessError) as failure:
            print(f"rehearsal: could not take the docker target down: {failure}", flush=True)

    def count_hits(self, label: str, outcomes: dict[str, str]) -> None:
        reused = [stage for stage, how in outcomes.items() if how != "ran"]
        ran = [stage for stage, how in outcomes.items() if how == "ran"]
        self.figures[f"stages reused / run ({label})"] = (
            f"{len(reused)} reused ({', '.join(reused) or '-'}), {len(ran)} run"
        )

    def author_change(
        self, branch: str, edit: Callable[[Path], None], message: str
    ) -> dict[str, str]:
        """The developer: a branch, the edit, `make pr-repro` (the run-cache of the team remote
        restores what did not change), everything the repro wrote to git, a commit."""
        git = self.world.git
        if branch in git("branch", "--list", branch):
            git("checkout", "-q", branch)
        else:
            git("checkout", "-q", "-b", branch, "main")
        edit(self.world.repo)
        code, text = self.world.make("pr-repro", env=DEVELOPER_AWS)
        check(code == 0, f"make pr-repro (the author's) failed: {text[-600:]}")
        git("add", "-A")
        git("commit", "-q", "-m", message)
        return stage_outcomes(text)

    def pull_request(self, current: Step, number: int, branch: str, action: str) -> ActRun:
        self.world.push(f"{branch}:refs/heads/{branch}")
        self.checkout_merge(number, branch)
        payload = self.pull_request_event(number, action, branch, fork=False)
        since = time.time()
        keys_before = set(self.s3_keys())
        run = self.act(current, "pr.yml", "pull_request", payload)
        self.figures[f"pr.yml ({action})"] = f"{run.seconds:.0f} s"
        for job in ("repro", "comment", "gate"):
            check(
                run.result(job) == "success",
                f"pr.yml job {job} ended {run.result(job)}: "
                f"failed steps {run.failed_steps(job)} (log {run.log})",
            )
        outcomes = stage_outcomes(run.text("repro"))
        current.facts.append(f"repro stages: {outcomes}")
        self.count_hits(f"PR #{number} {action}", outcomes)
        comments = self.github.comments_on(number)
        check(len(comments) == 1, f"PR #{number} has {len(comments)} comments, not one")
        check(COMMENT_MARK in comments[0]["body"], f"the comment lacks '{COMMENT_MARK}'")
        calls = self.pr_comment_calls(number, since)
        current.facts.append(f"comment calls: {calls}; comment id {comments[0]['id']}")
        posted = [
            c
            for c in self.github.calls()
            if c.time >= since
            and c.method in ("POST", "PATCH")
            and "comments" in c.path
            and c.status < 400
        ]
        check(posted, "no comment was posted or edited")
        self.figures[f"PR {action} -> comment posted"] = f"{posted[0].time - since:.0f} s"
        check(set(self.s3_keys()) == keys_before, "the pull request's jobs wrote the team remote")
        current.facts.append("team remote unchanged by the pull request's jobs")
        self.world.git("checkout", "-q", branch)
        return run

    def open_train_change(self, current: Step) -> None:
        """A pull request that changes only a train param: logreg's C, while the model is hgb.
        train re-runs (its params changed) and writes the same bytes, so validate and featurize
        and every stage after train come from the team remote; a change that moves the model
        would also re-run evaluate, fairness, explain and card (about three more minutes here)."""

        def edit(repo: Path) -> None:
            params = repo / "params.yaml"
            text = params.read_text()
            check(PARAM_BEFORE in text, f"params.yaml has no '{PARAM_BEFORE}'")
            params.write_text(text.replace(PARAM_BEFORE, PARAM_AFTER, 1))

        start = time.monotonic()
        local = self.author_change(BRANCH, edit, "train: logreg C=2.0")
        current.facts.append(f"author's make pr-repro and commit: {time.monotonic() - start:.0f} s")
        current.facts.append(f"author's stages: {local}")
        self.count_hits("the author's make pr-repro", local)
        check(
            local.get("train") == "ran",
            "train did not run for the author although its params changed",
        )
        for stage in ("validate", "featurize"):
            check(local.get(stage, "ran") != "ran", f"{stage} ran again for the author")
        self.pr = self.github.add_pull_request("train: logreg C=2.0", BRANCH)
        run = self.pull_request(current, self.pr, BRANCH, "opened")
        outcomes = stage_outcomes(run.text("repro"))
        for stage in ("validate", "featurize"):
            check(
                outcomes.get(stage, "ran") != "ran",
                f"{stage} ran again on the pull request instead of coming from the remote",
            )
        current.facts.append(
            "the repro job ran no stage: each stage's dvc.lock entry (the author's) matches, so "
            "DVC pulls its outputs from the team remote (the model's bytes did not change)"
        )

    def second_push(self, current: Step) -> None:
        check(self.pr, "no pull request was opened")

        def edit(repo: Path) -> None:
            params = repo / "params.yaml"
            text = params.read_text()
            check(RESAMPLES_BEFORE in text, f"params.yaml has no '{RESAMPLES_BEFORE}'")
            params.write_text(text.replace(RESAMPLES_BEFORE, RESAMPLES_AFTER, 1))

        local = self.author_change(BRANCH, edit, "fairness: 500 bootstrap resamples")
        current.facts.append(f"author's stages: {local}")
        before = self.github.comments_on(self.pr)
        since = time.time()
        self.pull_request(current, self.pr, BRANCH, "synchronize")
        after = self.github.comments_on(self.pr)
        calls = self.pr_comment_calls(self.pr, since)
        check(calls["created"] == 0, f"the second push created {calls['created']} comments")
        check(calls["edited"] >= 1, "the second push edited no comment")
        check(after[0]["id"] == before[0]["id"], "the comment is not the same one")
        current.facts.append(f"comment {after[0]['id']} edited, none created")

    def fork_pull_request(self, current: Step) -> None:
        git = self.world.git
        git("checkout", "-q", "-B", "fork-change", "main")
        params = self.world.repo / "params.yaml"
        params.write_text(params.read_text().replace(PARAM_BEFORE, "logreg: {C: 3.0,", 1))
        git("commit", "-q", "-am", "train: logreg C=3.0 (from a fork)")
        number = self.github.add_pull_request("a fork's change", "mallory:fork-change")
        self.checkout_merge(number, "fork-change")
        payload = self.pull_request_event(number, "opened", "fork-change", fork=True)
        run = self.act(current, "pr.yml", "pull_request", payload)
        self.figures["pr.yml (fork)"] = f"{run.seconds:.0f} s"
        check(run.result("repro") == "skipped", f"repro ran for a fork: {run.result('repro')}")
        check(run.result("gate") == "failure", f"gate is {run.result('gate')} for a fork")
        reason = run.text("gate")
        check("fork" in reason, f"the gate's log gives no fork reason: {reason[-300:]!r}")
        line = next(line for line in reason.splitlines() if "fork" in line)
        current.facts.append(f"gate red: {line.strip()}")
        check(not self.github.comments_on(number), "a comment was posted on the fork's PR")
        check(run.result("comment") != "success", "the comment job succeeded for a fork")
        if run.result("comment") != "skipped":
            self.notes.append(
                "act evaluates `needs.repro.outputs.report` of the skipped repro job as non-empty "
                "(nektos/act#2467: a skipped job's outputs are not emptied), so pr.yml's comment "
                "job starts for a fork's pull request and fails at download-artifact, posting "
                "nothing; on GitHub it is skipped"
            )
            current.facts.append(
                f"comment job: {run.result('comment')} at {run.failed_steps('comment')} "
                "(act#2467; skipped on GitHub), nothing posted"
            )
        check(not stage_outcomes("".join(run.text(job) for job in run.jobs)), "a stage ran")
        git("checkout", "-q", "main")

    def merge(self, current: Step) -> None:
        check(self.pr, "no pull request was opened")
        git = self.world.git
        git("checkout", "-q", "main")
        git("merge", "-q", "--no-ff", "-m", f"Merge pull request #{self.pr}", BRANCH)
        runs_before = set(self.s3_keys("runs/"))
        keys_before = set(self.s3_keys())
        self.push_main(current, "merge")
        new_runs = set(self.s3_keys("runs/")) - runs_before
        new = set(self.s3_keys()) - keys_before
        current.facts.append(
            f"{len(new)} new objects, {len(new_runs)} new run-cache entries: the merged change "
            "moved no DVC-cached output (the fairness and card files it changed are in git)"
        )

    def drift_unconfigured(self, current: Step) -> None:
        self.world.git("checkout", "-q", "main")
        payload = {"schedule": "17 5 * * *", "repository": _repository()}
        run = self.act(current, "drift.yml", "schedule", payload)
        self.figures["drift.yml (no log source)"] = f"{run.seconds:.0f} s"
        check(
            run.result("detect") == "success",
            f"detect ended {run.result('detect')} "
            f"(failed steps {run.failed_steps('detect')}, log {run.log})",
        )
        check(run.result("issue") == "skipped", f"the issue job ran: {run.result('issue')}")
        summary = run.summaries.get("detect", "")
        check(summary.strip(), "the detect job wrote no job summary")
        current.facts.append(f"detect's summary: {first_words(summary)}")
        check(not self.github.issues_labelled("drift"), "a drift issue was opened")

    def developer_setup(self, current: Step) -> None:
        code, text = self.world.make("setup")
        check(code == 0, f"make setup failed: {text.strip()[-600:]}")
        current.facts.append("make setup in the developer's clone (its own .venv)")

    def day_one_main(self, current: Step) -> None:
        """A fresh copy pushed to main, nothing configured: green, with a notice of what to set."""
        self.world.git("checkout", "-q", "main")
        self.world.push("main:refs/heads/main")
        run = self.act(current, "main.yml", "push", self.push_event("0" * 40, self.world.sha()))
        self.figures["main.yml (day one, nothing configured)"] = f"{run.seconds:.0f} s"
        check(
            run.result("run-cache") == "success",
            f"run-cache ended {run.result('run-cache')} "
            f"(failed steps {run.failed_steps('run-cache')}, log {run.log})",
        )
        summary = run.summaries.get("run-cache", "")
        check("remote" in summary, f"no notice about the team remote in the summary: {summary!r}")
        current.facts.append(f"run-cache's summary: {first_words(summary)}")
        check(not stage_outcomes(run.text("run-cache")), "a stage ran without a team remote")
        check(not self.s3_keys(), "something was written to the (unconfigured) team remote")

    def ship_traffic(self, current: Step, *traffic: str) -> None:
        """The deployment's part, played in the developer's clone: the model main holds, an
        hour of traffic logged (`traffic`: tools/rehearsal/traffic.py's options), and with
        `--labels`, the team's labels file imported as outcomes; `make ship-logs` ships both."""
        self.world.git("checkout", "-q", "main")
        self.pull_drift_inputs()
        code, text = self.world.dev(".venv/bin/python", "-m", "tools.rehearsal.traffic", *traffic)
        check(code == 0, f"traffic failed: {text[-400:]}")
        current.facts.append(text.strip().splitlines()[-1])
        if "--labels" in traffic:
            self.import_outcomes(current, traffic[traffic.index("--labels") + 1])
        code, text = self.world.make("ship-logs", env=DEVELOPER_AWS)
        check(code == 0, f"make ship-logs failed: {text[-400:]}")
        shipped = self.s3_keys("prediction-logs/")
        check(shipped, "nothing under prediction-logs/ in the team remote after make ship-logs")
        current.facts.append(f"make ship-logs: {', '.join(k.rsplit('/', 1)[1] for k in shipped)}")

    def pull_drift_inputs(self) -> None:
        """The model main holds and its test split, in the developer's clone, once."""
        if not self.drift_inputs_pulled:
            code, text = self.world.make("drift-inputs", env=DEVELOPER_AWS)
            check(code == 0, f"make drift-inputs failed: {text[-400:]}")
            self.drift_inputs_pulled = True

    def split_rollout(self, current: Step) -> None:
        """deploy.yml dispatched with `split: 20` and the merge's image (built before: no
        build): the production gate and the smoke test, then it takes 20% beside the live one."""
        check(not self.deploy_skipped, f"skipped: {self.deploy_skipped}")
        check(len(self.images) >= 2, f"{len(self.images)} images deployed, not two")
        reference, commit = self.images[1]
        self.world.git("checkout", "-q", "main")
        inputs = {"ref": commit, "rollback_image": reference, "split": "20"}
        payload = {"inputs": inputs, "ref": "refs/heads/main", "repository": _repository()}
        with watching(self.world, load=False) as watch:
            payload["sender"] = {"login": "alice"}
            run = self.act(current, "deploy.yml", "workflow_dispatch", payload, skipped={"build"})
        self.figures["deploy.yml (A/B split 20%, dispatched)"] = f"{run.seconds:.0f} s"
        rollout = run.result("rollout")
        check(rollout == "success", f"rollout ended {rollout} (log {run.log})")
        self.approved(current, watch)
        split = deploy_leg.host_status(self.world).get("split") or {}
        check(split.get("percent") == 20, f"no 20% split after the rollout: {split}")
        current.facts.append(f"split: {split['candidate']} takes {split['percent']}%")

    def split_decided(self, current: Step) -> None:
        """Callers through HAProxy, their outcomes reported late, then decide.yml on its
        schedule: promote, keep splitting or roll back, with the numbers, on the host."""
        check(not self.deploy_skipped, f"skipped: {self.deploy_skipped}")
        self.pull_drift_inputs()
        port = str(deploy_leg.PROXY_PORT)
        code, text = self.world.dev(".venv/bin/python", "-m", "tools.rehearsal.ab", "--port", port)
        check(code == 0, f"the A/B callers failed: {text[-400:]}")
        current.facts.append(text.strip().splitlines()[-1])
        payload = {"schedule": "23 * * * *", "repository": _repository()}
        run = self.act(current, "decide.yml", "schedule", payload)
        self.figures["decide.yml (scheduled)"] = f"{run.seconds:.0f} s"
        entry = deploy_leg.latest_decision(self.world)
        check(entry, f"no decide entry in the host's audit log (log {run.log})")
        self.judged(current, run, entry)

    def judged(self, current: Step, run: ActRun, entry: dict) -> None:
        """The job ends as its verdict says (red only for a rollback), on enough samples."""
        details = entry["details"]
        wanted = "failure" if details["action"] == "rollback" else "success"
        check(run.result("decide") == wanted, f"decide ended {run.result('decide')}: {entry}")
        samples = min(details["candidate_samples"], details["live_samples"])
        check(samples >= 200, f"{samples} labelled predictions on a variant, not 200: {details}")
        summary = run.summaries.get("decide", "")
        check(details["action"] in summary, f"the job summary has no verdict: {summary!r}")
        current.facts.append(f"decide.yml: {entry['reason'][:240]}")
        numbers = ("candidate_samples", "live_samples", "candidate_rate", "live_rate", "p_value")
        current.facts.append(str({key: details.get(key) for key in numbers}))

    def import_outcomes(self, current: Step, labels: str) -> None:
        """The team reports the true labels of this stream in a batch (`outcomes import`); the
        outcome log starts afresh, as the stream's log did."""
        (self.world.repo / OUTCOME_LOG).unlink(missing_ok=True)
        code, text = self.world.dev(".venv/bin/greenlight", "outcomes", "import", labels)
        check(code == 0, f"greenlight outcomes import failed: {text[-400:]}")
        current.facts.append(text.strip().splitlines()[-1])

    def monitor_run(self, current: Step, monitor: Monitor, label: str) -> ActRun:
        """Dispatch a monitor workflow on main; its measuring job must end green (the verdict, 3,
        is the job's output, not its failure), and its verdict line becomes a fact."""
        payload = {"inputs": dict(monitor.inputs), "repository": _repository()}
        payload |= {"ref": "refs/heads/main", "sender": {"login": "alice"}}
        run = self.act(current, monitor.workflow, "workflow_dispatch", payload)
        self.figures[f"{monitor.workflow} ({label})"] = f"{run.seconds:.0f} s"
        job = monitor.job
        check(
            run.result(job) == "success",
            f"{job} ended {run.result(job)} (failed steps {run.failed_steps(job)}, log {run.log})",
        )
        verdict = [line for line in run.text(job).splitlines() if monitor.verdict in line]
        current.facts.append(f"{job}: {(verdict or ['-'])[-1].strip()[:200]}")
        return run

    def drift_nothing_shipped(self, current: Step) -> None:
        """The team remote exists (so drift.source does), but no deployment has shipped a log."""
        check(not self.s3_keys("prediction-logs/"), "prediction logs are already shipped")
        run = self.monitor_run(current, DRIFT_MONITOR, "team remote, no log shipped yet")
        summary = first_words(run.summaries.get("detect", ""))
        current.facts.append(f"detect's summary: {summary or '(none)'}")
        check(run.result("detect") == "success", "detect is red before any log was shipped")
        check("no prediction log shipped yet" in summary, "detect's summary has no notice")
        check(run.result("issue") == "skipped", "the issue job ran without a log")

    def drift_normal(self, current: Step) -> None:
        self.ship_traffic(current)
        run = self.monitor_run(current, DRIFT_MONITOR, "normal traffic")
        check(run.result("issue") == "skipped", "the issue job ran on normal traffic")
        check(not self.github.issues_labelled("drift"), "a drift issue was opened")

    def drift_shifted(self, current: Step, again: bool) -> None:
        self.ship_traffic(current, "--shifted")
        before = {i["number"]: i["updated_at"] for i in self.github.issues_labelled("drift")}
        since = time.time()
        run = self.monitor_run(
            current, DRIFT_MONITOR, "shifted traffic, again" if again else "shifted traffic"
        )
        check(
            run.result("issue") == "success",
            f"the issue job ended {run.result('issue')} (failed steps {run.failed_steps('issue')})",
        )
        issues = self.github.issues_labelled("drift")
        check(len(issues) == 1, f"{len(issues)} drift issues, not one")
        writes = [c for c in self.github.calls() if c.time >= since and c.method != "GET"]
        current.facts.append(
            f"drift issue #{issues[0]['number']}; calls: "
            + ", ".join(f"{c.method} {c.path.removeprefix(f'/repos/{REPOSITORY}')}" for c in writes)
        )
        if again:
            check(issues[0]["number"] in before, "the second drifting run opened a new issue")
            check(
                not [c for c in writes if c.method == "POST" and c.path.endswith("/issues")],
                "the second drifting run created an issue",
            )

    def performance_fine(self, current: Step) -> None:
        self.ship_traffic(current, "--labels", LABELS)
        run = self.monitor_run(current, PERFORMANCE_MONITOR, "labels of unshifted traffic")
        check(run.result("issue") == "skipped", "the issue job ran without a degradation")
        check(not self.github.issues_labelled("performance"), "a performance issue was opened")

    def performance_degraded(self, current: Step) -> None:
        self.ship_traffic(current, "--borderline", "--labels", LABELS)
        run = self.monitor_run(current, PERFORMANCE_MONITOR, "labels of borderline traffic")
        check(
            run.result("issue") == "success",
            f"the issue job ended {run.result('issue')} (failed steps {run.failed_steps('issue')})",
        )
        issues = self.github.issues_labelled("performance")
        check(len(issues) == 1, f"{len(issues)} performance issues, not one")
        body = issues[0].get("body") or ""
        params = yaml.safe_load((self.world.repo / "params.yaml").read_text(encoding="utf-8"))
        sensitive = params["dataset"]["sensitive"]
        named = [name for name in sensitive if re.search(rf"\b{name}\b", body)]
        check(not named, f"the performance issue names the sensitive attribute(s) {named}")
        current.facts.append(f"performance issue #{issues[0]['number']}: {issues[0]['title']}")

    def run_all(self) -> bool:
        self.step("the developer's clone: make setup", self.developer_setup)
        self.step("day one: main.yml on a fresh copy, nothing configured", self.day_one_main)
        self.step(
            "day one: drift.yml, scheduled, no log source configured", self.drift_unconfigured
        )
        self.step(
            "the team configures its remote (make remote), committed to main", self.configure_remote
        )
        self.step(
            "the team configures production: DEPLOY_TARGET=docker, its environment's secret",
            self.configure_production,
        )
        self.step(
            "main: push outputs and run-cache, build, approve, deploy (first run, empty remote)",
            lambda s: self.push_main(s, "first main run"),
        )
        self.step("pull request: a train param changes (opened)", self.open_train_change)
        self.step("pull request: a second push edits the same comment", self.second_push)
        self.step("pull request from a fork: no repro, gate red", self.fork_pull_request)
        self.step(
            "merge: main pushes the outputs and the run-cache, deploys the merge under load",
            self.merge,
        )
        self.step(
            "rollback: deploy.yml dispatched with the first digest, under load", self.rollback
        )
        self.step(
            "A/B: deploy.yml dispatched with split 20, the merge's image beside live",
            self.split_rollout,
        )
        self.step(
            "A/B: callers, their outcomes reported late, decide.yml on its schedule",
            self.split_decided,
        )
        self.step(
            "drift: team remote, no log shipped yet (no red X, a notice)",
            self.drift_nothing_shipped,
        )
        self.step("drift: normal traffic shipped, no drift", self.drift_normal)
        self.step(
            "drift: shifted traffic, one issue opened", lambda s: self.drift_shifted(s, again=False)
        )
        self.step(
            "drift: shifted again, the same issue updated",
            lambda s: self.drift_shifted(s, again=True),
        )
        self.step("performance: outcomes of normal traffic, no degradation", self.performance_fine)
        self.step(
            "performance: outcomes of borderline traffic, one issue opened",
            self.performance_degraded,
        )
        self.step("the container host: greenlight deploy down, nothing left", self.take_down)
        return all(step.counts for step in self.steps)
