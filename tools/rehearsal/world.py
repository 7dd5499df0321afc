"""The rehearsal's world on 127.0.0.1: a bare git origin, a scratch checkout that plays the
developer's clone and the events' commits, an S3 store (moto) as the team remote, the GitHub API
stand-in, and act configured to run the real workflows against them."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from greenlight.localnet import free_port
from tools.rehearsal.act import Act, environment_jobs, pinned_actions, runner_labels
from tools.rehearsal.github_api import GitHubStandIn
from tools.rehearsal.procs import run_captured, running, wait_http

OWNER, NAME = "greenlight-owner", "greenlight"
REPOSITORY = f"{OWNER}/{NAME}"
BUCKET = "greenlight-team"
TOKEN = "ghs_rehearsal_token"  # noqa: S105 (the stand-in's own token, nothing real)
AWS_KEY, AWS_SECRET = "rehearsal", "rehearsal-secret"
AUTHOR = {"GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.com"}
AUTHOR |= {"GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": "alice@example.com"}
ACTIONS = Path(__file__).parent / "actions"
# This machine's trust store settings (its network intercepts TLS): a runner image has its own
# certificates; here the jobs get these, and nothing else of the rehearsal's environment.
MACHINE_VARS = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "GIT_SSL_CAINFO",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_FIND_LINKS",
)
# ... and its pip configuration (package mirror, local wheels), as a runner image has its own.
PIP_CONF = Path.home() / ".config" / "pip" / "pip.conf"
# Never handed on to the developer's commands from the shell that runs the rehearsal.
SHELL_ONLY = ("GITHUB_", "AWS_", "DVC_", "MAKE", "MFLAGS", "VIRTUAL_ENV", "GREENLIGHT_", "GIT_")
# The hosted actions the rehearsal replaces, by repository; any other pinned action is reported.
STAND_INS = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "aws-actions/configure-aws-credentials": "configure-aws-credentials",
    "actions/attest-build-provenance": "attest-build-provenance",
    "actions/attest-sbom": "attest-sbom",
}
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# act's host mode runs every step on a pseudo-terminal; GitHub's runner gives steps a pipe and no
# input. On a terminal, tools ask (DVC waits at "Would you like to continue?" for a directory
# missing from the cache), so the runner's PATH starts with this `bash`: the same shell, on a pipe.
# act has no environments either: a job that names `production` (deploy.yml's `rollout`) runs at
# once. So this shell holds such a job's first step until the rehearsal, the environment's
# reviewer, approves: it writes <gate>/<run id>.pending and waits for <gate>/<run id>.approved.
STEP_BASH = """#!/bin/bash
# The rehearsal's runner shell (tools/rehearsal/world.py): bash with no terminal, as on GitHub.
if [[ " ${REHEARSAL_GATED_JOBS:-} " == *" ${GITHUB_JOB:-none} "* ]]; then
  gate="$REHEARSAL_GATE/$GITHUB_RUN_ID"
  if [ ! -e "$gate.approved" ]; then
    echo "$GITHUB_JOB" >"$gate.pending"
    echo "waiting for a reviewer of the environment (the rehearsal approves)" >&2
    for _ in $(seq 2400); do [ -e "$gate.approved" ] && break; sleep 0.5; done
  fi
  [ -e "$gate.approved" ] || { echo "not approved: the environment's gate timed out" >&2; exit 1; }
fi
/bin/bash "$@" </dev/null 2>&1 | cat
exit "${PIPESTATUS[0]}"
"""
# The container host of the docker target: the private engine and registry of .ci/services.sh.
DOCKER_SOCKET = "unix:///run/greenlight/docker.sock"
REGISTRY = "127.0.0.1:5000"
BASE_IMAGE = "greenlight-base:bookworm"
IMAGE_NAME = f"{REGISTRY}/{REPOSITORY}"  # on GitHub: ghcr.io/<owner>/<repo> (the Makefile's)
# The runner's engine and registry (a hosted runner has docker and reaches ghcr.io and Docker
# Hub): the Makefile's IMAGE_NAME, REGISTRY and BASE_IMAGE defaults, overridden as variables.
RUNNER_IMAGE_ENV = {
    "DOCKER_HOST": DOCKER_SOCKET,
    "IMAGE_NAME": IMAGE_NAME,
    "REGISTRY": REGISTRY,
    "BASE_IMAGE": BASE_IMAGE,
}


def runner_python_dir() -> Path:
    """The bin folder of a real Python 3.11 (not a pyenv shim): setup-python's stand-in finds it."""
    found = shutil.which("python3.11")
    if not found:
        raise RuntimeError("no python3.11 on PATH: the runner needs one (as setup-python gives)")
    prefix = subprocess.run(
        [found, "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(prefix) / "bin"


@dataclass
class S3:
    endpoint: str

    def create_bucket(self, bucket: str) -> None:
        request = urllib.request.Request(f"{self.endpoint}/{bucket}", method="PUT")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (our own http:// URL)
            pass

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        found: list[str] = []
        token = ""
        for _page in range(1000):
            url = f"{self.endpoint}/{bucket}?list-type=2&prefix={prefix}"
            if token:
                url += f"&continuation-token={urllib.request.quote(token)}"
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (ours)
                root = ET.fromstring(answer.read())  # noqa: S314 (our own moto server)
            found += [node.text or "" for node in root.iter(f"{S3_NS}Key")]
            token = root.findtext(f"{S3_NS}NextContinuationToken") or ""
            if not token:
                return found
        raise RuntimeError("more than 1000 pages of S3 keys")


@dataclass
class Git:
    repo: Path
    env: dict[str, str]

    def __call__(self, *args: str) -> str:
        completed = subprocess.run(
            ["git", *args],
            cwd=self.repo,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {completed.stderr.strip()}")
        return completed.stdout.strip()


@dataclass
class World:
    project: Path
    work: Path
    act_binary: Path
    moto_binary: Path
    github: GitHubStandIn | None = None
    s3: S3 | None = None
    act: Act | None = None
    unmapped: list[str] = field(default_factory=list)  # pinned actions without a stand-in
    origin: Path = field(init=False)
    repo: Path = field(init=False)
    git: Git = field(init=False)
    gate: Path = field(init=False)  # the environment gate's files (STEP_BASH)

    def __post_init__(self) -> None:
        self.origin = self.work / "origin" / OWNER / f"{NAME}.git"
        self.repo = self.work / "repo"
        env = {k: v for k, v in os.environ.items() if not k.startswith(SHELL_ONLY)}
        env |= {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", **AUTHOR}
        self.git = Git(self.repo, env)
        self.gate = self.work / "gate"

    # the scratch repository
    def snapshot(self) -> str:
        """The project's tracked files as they are in the work tree (uncommitted edits too),
        as the first commit of a new repository whose origin is a bare repository."""
        project_git = Git(self.project, self.git.env)
        tree = project_git("stash", "create") or project_git("rev-parse", "HEAD")
        archive = self.work / "snapshot.tar"
        project_git("archive", "--format=tar", "-o", str(archive), tree)
        self.repo.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(self.repo, filter="data")
        archive.unlink()
        self.origin.parent.mkdir(parents=True)
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.origin)], check=True)
        self.git("init", "-q", "-b", "main")
        self.git("remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", f"greenlight template at {tree[:12]}")
        return self.git("rev-parse", "HEAD")

    def push(self, *refspecs: str) -> None:
        """Push to the bare origin by its path (the developer's git has no github.com mapping)."""
        self.git("push", "-q", "--force", str(self.origin), *refspecs)

    def sha(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref)

    def make(
        self, *args: str, env: dict[str, str] | None = None, timeout_s: float = 1800
    ) -> tuple[int, str]:
        """A developer's `make` in the scratch checkout (its own .venv, made by `make setup`):
        its exit code and output (also in logs/dev-make-<target>.log)."""
        full = {**self.git.env, **(env or {})}
        log = self.work / "logs" / f"dev-make-{args[0]}.log"
        argv = ["make", "--no-print-directory", *args]
        code, text, _ = run_captured(argv, log, full, self.repo, timeout_s)
        return code, text

    def dev(self, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        """A developer's command in the scratch checkout, e.g. its .venv's Python."""
        log = self.work / "logs" / f"dev-{Path(argv[-1]).name}.log"
        code, text, _ = run_captured(
            list(argv), log, {**self.git.env, **(env or {})}, self.repo, 600
        )
        return code, text

    def need_act(self) -> Act:
        if self.act is None:
            raise RuntimeError("act is not configured: start the services first")
        return self.act

    # act
    def make_act(self, github_url: str, s3_endpoint: str) -> Act:
        workflows = sorted((self.repo / ".github" / "workflows").glob("*.yml"))
        local: dict[str, Path] = {}
        for name, shas in pinned_actions(workflows).items():
            for sha in shas:
                if name in STAND_INS:
                    local[f"{name}@{sha}"] = ACTIONS / STAND_INS[name]
                else:
                    self.unmapped.append(f"{name}@{sha}")
        home = self.work / "runner-home"
        home.mkdir(parents=True, exist_ok=True)
        if PIP_CONF.is_file():
            (home / ".config" / "pip").mkdir(parents=True, exist_ok=True)
            shutil.copy2(PIP_CONF, home / ".config" / "pip" / "pip.conf")
        gitconfig = self.work / "runner-gitconfig"
        gitconfig.write_text(
            f'[url "{self.origin.parent.parent}/"]\n\tinsteadOf = https://github.com/\n'
            "[user]\n\tname = github-actions\n\temail = actions@example.com\n"
        )
        runner_bin = self.work / "runner-bin"
        runner_bin.mkdir(parents=True, exist_ok=True)
        self.gate.mkdir(parents=True, exist_ok=True)
        (runner_bin / "bash").write_text(STEP_BASH)
        (runner_bin / "bash").chmod(0o755)
        path = f"{runner_bin}:{runner_python_dir()}:/usr/local/bin:/usr/bin:/bin"
        env = {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8"}
        env |= {key: os.environ[key] for key in MACHINE_VARS if key in os.environ}
        job_env = {
            "GITHUB_API_URL": github_url,
            "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GIT_PAGER": "cat",
            "PAGER": "cat",
            # the runner's warm package cache (as a self-hosted runner keeps one; see docs)
            "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv"),
            # ... used offline, with this machine's wheel folder: the workflows' CPU torch index
            # (download.pytorch.org) is out of this machine's reach; its wheel is in the folder.
            "UV_OFFLINE": "1",
            **(
                {"UV_FIND_LINKS": os.environ["PIP_FIND_LINKS"]}
                if "PIP_FIND_LINKS" in os.environ
                else {}
            ),
            **RUNNER_IMAGE_ENV,
            "REHEARSAL_GATE": str(self.gate),
            "REHEARSAL_GATED_JOBS": " ".join(sorted(environment_jobs(workflows, "production"))),
            "REHEARSAL_ACTIONS": str(ACTIONS),
            "REHEARSAL_ARTIFACTS": str(self.work / "artifacts"),
            "REHEARSAL_AWS_ACCESS_KEY_ID": AWS_KEY,
            "REHEARSAL_AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        }
        return Act(
            binary=self.act_binary,
            repo=self.repo,
            env=env,
            job_env=job_env,
            local_actions=local,
            labels=runner_labels(workflows),
            artifact_dir=self.work / "artifacts",
            artifact_port=free_port(),
            logs=self.work / "logs",
            secrets={"GITHUB_TOKEN": TOKEN},
        )

    @contextlib.contextmanager
    def services(self) -> Iterator[World]:
        """moto (S3) and the GitHub stand-in on free 127.0.0.1 ports, stopped on the way out."""
        port = free_port()
        moto_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.work / "moto")}
        argv = [str(self.moto_binary), "-H", "127.0.0.1", "-p", str(port)]
        with running(argv, self.work / "logs" / "moto.log", moto_env) as moto:
            endpoint = f"http://127.0.0.1:{port}"
            wait_http(endpoint, moto)
            self.s3 = S3(endpoint)
            self.s3.create_bucket(BUCKET)
            with GitHubStandIn(REPOSITORY, TOKEN) as github:
                self.github = github
                self.act = self.make_act(github.url, endpoint)
                yield self


def default_paths(project: Path) -> dict[str, Path]:
    tools = project / ".tools" / "rehearsal" / "bin"
    return {
        "act_binary": tools / "act",
        "moto_binary": tools / "moto_server",
    }


def now() -> float:
    return time.time()


if __name__ == "__main__":  # pragma: no cover (a quick manual check of the world alone)
    print(runner_python_dir(), file=sys.stderr)
