"""The make targets deploy.yml calls refuse to run half-configured. What the workflow itself does
(ref check first, rollback by digest, approval, login until the attestation) is evaluated in
tests/workflows/test_workflow_behaviour.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"


def make(target: str, **env: str) -> subprocess.CompletedProcess[str]:
    left_out = {"IMAGE", "REGISTRY_TOKEN", "GITHUB_OUTPUT", "DEPLOY_DOCKER_HOST"}
    environment = {k: v for k, v in os.environ.items() if k not in left_out}
    return subprocess.run(
        ["make", "-s", "--no-print-directory", target], cwd=ROOT, capture_output=True,
        text=True, env={**environment, **env}, check=False, timeout=600,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("target", "message"),
    [("deploy-kubernetes", "IMAGE is not set"), ("deploy-push", "REGISTRY_TOKEN is not set")],
)
def test_the_ci_targets_name_what_is_missing(target: str, message: str) -> None:
    done = make(target)
    assert done.returncode != 0 and message in done.stderr


# -- make deploy-config / deploy-docker: the target deploy.yml chooses -----------------------------

SCRIPT = ROOT / "bin" / "deploy-docker"
IMAGE = "ghcr.io/acme/shop@sha256:" + "ab" * 32
FAKE_SSH = """#!/bin/sh
# Records what the script gives ssh: its arguments, the files behind -i and UserKnownHostsFile
# (their mode and content), and stdin; answers the audit log fetch with one line.
log="$FAKE_SSH_LOG"
n=$(ls "$log" | wc -l)
call="$log/$n"; mkdir -p "$call"
printf '%s\\n' "$@" >"$call/args"
while [ $# -gt 0 ]; do
  case "$1" in
    -i) stat -c %a "$2" >"$call/key_mode"; cat "$2" >"$call/key"
        echo "$2" >"$call/key_path"; shift ;;
    -o) case "$2" in UserKnownHostsFile=*) f=${2#UserKnownHostsFile=}
          stat -c %a "$f" >"$call/kh_mode"; cat "$f" >"$call/kh" ;; esac; shift ;;
  esac
  shift
done
cat >"$call/stdin"
case "$(cat "$call/args")" in *audit.jsonl*) echo '{"step": "decision"}' ;; esac
exit "${FAKE_SSH_EXIT:-0}"
"""


def run_script(tmp_path: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    bundle = tmp_path / "bundle"
    bundle.mkdir(exist_ok=True)
    (bundle / "manifest.json").write_text('{"model_version": "v7"}')
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    (tools / "ssh").write_text(FAKE_SSH)
    (tools / "ssh").chmod(0o755)
    for folder in ("calls", "tmp"):
        (tmp_path / folder).mkdir(exist_ok=True)
    (tmp_path / "params.yaml").write_text(PARAMS)
    base = {
        "PATH": f"{tools}:{os.environ['PATH']}",
        "DEPLOY_BUNDLE": str(bundle),
        "FAKE_SSH_LOG": str(tmp_path / "calls"),
        "TMPDIR": str(tmp_path / "tmp"),
    }
    command = [str(SCRIPT), *arguments]
    return subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
        env={**base, **env},
    )  # fmt: skip


PARAMS = "deploy:\n  split:\n    min_samples: 100\n"  # the thresholds a decision reads
SSH_ENV = {
    "IMAGE": IMAGE, "DEPLOY_DOCKER_HOST": "ssh://deploy@vm.example:2222",
    "DEPLOY_SSH_KEY": "not a real key\nline two",
    "DEPLOY_KNOWN_HOSTS": "[vm.example]:2222 ssh-ed25519 AAAAC3Nza...",
}  # fmt: skip


def test_the_docker_rollout_runs_on_the_host_over_ssh_with_a_0600_key_removed_after(
    tmp_path: Path,
) -> None:
    done = run_script(tmp_path, **SSH_ENV)
    assert done.returncode == 0, done.stderr
    rollout, audit = (tmp_path / "calls" / str(n) for n in (0, 1))
    args = (rollout / "args").read_text().splitlines()
    assert "StrictHostKeyChecking=yes" in args and "BatchMode=yes" in args
    assert args[args.index("-p") + 1] == "2222" and "deploy@vm.example" in args
    assert f"greenlight deploy --target docker --image {IMAGE}" in args[-1]
    assert (rollout / "key_mode").read_text().strip() == "600"
    assert (rollout / "kh_mode").read_text().strip() == "600"
    assert (rollout / "key").read_text().strip() == SSH_ENV["DEPLOY_SSH_KEY"]
    assert (rollout / "kh").read_text().strip() == SSH_ENV["DEPLOY_KNOWN_HOSTS"]
    assert (rollout / "stdin").read_text() == '{"model_version": "v7"}'  # the manifest travels
    assert not Path((rollout / "key_path").read_text().strip()).exists()  # removed on exit
    assert list((tmp_path / "tmp").iterdir()) == []
    assert "audit.jsonl" in (audit / "args").read_text()
    assert (tmp_path / ".deploy" / "audit.jsonl").read_text() == '{"step": "decision"}\n'


def test_a_failed_remote_rollout_fails_the_step_and_still_fetches_the_audit_log(
    tmp_path: Path,
) -> None:
    done = run_script(tmp_path, **SSH_ENV, FAKE_SSH_EXIT="1")
    assert done.returncode == 1
    assert (tmp_path / "calls" / "1" / "args").is_file()  # the audit fetch ran after the failure
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"IMAGE": ""}, "IMAGE is not set"),
        ({"IMAGE": "ghcr.io/acme/shop:latest"}, "not an image reference by digest"),
        ({"IMAGE": IMAGE + ";reboot"}, "not an image reference by digest"),
        ({"DEPLOY_DOCKER_HOST": "tcp://vm:2376"}, "expected ssh://user@host[:port]"),
        ({"DEPLOY_SSH_KEY": ""}, "DEPLOY_SSH_KEY is not set"),
        ({"DEPLOY_KNOWN_HOSTS": ""}, "DEPLOY_KNOWN_HOSTS is not set"),
        ({"DEPLOY_SPLIT": "20;reboot"}, "DEPLOY_SPLIT=20;reboot: a percentage from 1 to 99"),
        ({"DEPLOY_SPLIT": "100"}, "DEPLOY_SPLIT=100: a percentage from 1 to 99"),
    ],
)
def test_the_docker_rollout_refuses_what_is_missing_or_malformed(
    tmp_path: Path, changes: dict[str, str], message: str
) -> None:
    done = run_script(tmp_path, **{**SSH_ENV, **changes})
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert list((tmp_path / "calls").iterdir()) == []  # ssh never ran


@pytest.mark.parametrize(("host", "configured"), [("", "false"), ("ssh://deploy@vm", "true")])
def test_deploy_config_for_docker_asks_for_the_container_host(
    tmp_path: Path, host: str, configured: str
) -> None:
    output = tmp_path / "out"
    done = make("deploy-config", DEPLOY_TARGET="docker", DEPLOY_DOCKER_HOST=host,
                GITHUB_OUTPUT=str(output))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert output.read_text() == f"container_host={configured}\n"


def test_a_local_engine_socket_runs_the_rollout_here_with_its_state_in_home(
    tmp_path: Path,
) -> None:
    """A runner on the container host: the target's state outlives the job's workspace."""
    fake = tmp_path / "greenlight"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "$(pwd) DOCKER_HOST=$DOCKER_HOST $*" >"$FAKE_SSH_LOG/greenlight"\n'
        'mkdir -p .deploy && echo \'{"step": "decision"}\' >.deploy/audit.jsonl\n'
    )
    fake.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    socket = "unix:///run/greenlight/docker.sock"
    done = run_script(
        tmp_path, IMAGE=IMAGE, DEPLOY_DOCKER_HOST=socket, GREENLIGHT=str(fake), HOME=str(home)
    )
    assert done.returncode == 0, done.stderr
    ran = (tmp_path / "calls" / "greenlight").read_text()
    bundle = tmp_path / "bundle"
    assert (
        ran
        == f"{home} DOCKER_HOST={socket} deploy --target docker --image {IMAGE} --bundle {bundle}\n"
    )
    assert (tmp_path / ".deploy" / "audit.jsonl").read_text() == '{"step": "decision"}\n'
    assert not (tmp_path / "calls" / "0").exists()  # no ssh


def test_a_split_rollout_asks_the_host_for_the_share(tmp_path: Path) -> None:
    done = run_script(tmp_path, **SSH_ENV, DEPLOY_SPLIT="20")
    assert done.returncode == 0, done.stderr
    remote = (tmp_path / "calls" / "0" / "args").read_text().splitlines()[-1]
    assert remote.endswith(f"--image {IMAGE} --bundle $d --split 20'"), remote


def test_the_decision_runs_on_the_host_with_this_checkouts_thresholds(tmp_path: Path) -> None:
    """The scheduled A/B decision: params.yaml travels on stdin (the host has no checkout); no
    split in progress is the host's notice, exit 0 (--if-splitting)."""
    env = {key: value for key, value in SSH_ENV.items() if key != "IMAGE"}
    done = run_script(tmp_path, "decide", **env)
    assert done.returncode == 0, done.stderr
    decide, audit = (tmp_path / "calls" / str(n) for n in (0, 1))
    remote = (decide / "args").read_text().splitlines()[-1]
    assert 'greenlight deploy decide --target docker --if-splitting --params "$d/params.yaml"' in (
        remote
    )
    assert (decide / "stdin").read_text() == PARAMS
    assert "audit.jsonl" in (audit / "args").read_text()  # for the job summary


def test_a_decision_on_a_local_engine_socket_reads_the_checkouts_params(tmp_path: Path) -> None:
    fake = tmp_path / "greenlight"
    fake.write_text('#!/bin/sh\necho "$(pwd) $*" >"$FAKE_SSH_LOG/greenlight"\n')
    fake.chmod(0o755)
    home = tmp_path / "home"
    (home / ".deploy").mkdir(parents=True)
    (home / ".deploy" / "audit.jsonl").write_text("{}\n")
    socket = "unix:///run/greenlight/docker.sock"
    done = run_script(
        tmp_path, "decide", DEPLOY_DOCKER_HOST=socket, GREENLIGHT=str(fake), HOME=str(home)
    )
    assert done.returncode == 0, done.stderr
    ran = (tmp_path / "calls" / "greenlight").read_text()
    params = tmp_path / "params.yaml"
    assert ran == f"{home} deploy decide --target docker --if-splitting --params {params}\n"
