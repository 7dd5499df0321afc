"""The one exit-code contract of `greenlight` (greenlight.errors.ExitCode), through the real CLI:
0 ok, 1 a check failed, 2 bad input or config, 3 drift or degradation, 4 infrastructure
unavailable. Drift and degradation (3) are in tests/monitor, the gate's 1 in tests/stages, the
deploy target's codes in tests/deploy/test_deploy_exit_codes.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenlight.cli import app
from greenlight.errors import ExitCode
from greenlight.localnet import free_port

ROOT = Path(__file__).resolve().parents[1]

# every command that reads params.yaml, with what else it needs to get that far
PARAMS_COMMANDS = [
    ["validate"],
    ["featurize"],
    ["train"],
    ["evaluate"],
    ["fairness"],
    ["explain"],
    ["card"],
    ["gate"],
    ["report"],
    ["drift"],
    ["drift-fetch"],
    ["ship-logs"],
    ["monitor", "performance"],
    ["outcomes", "import", "labels.csv"],
    ["outcomes", "fetch"],
    ["deploy"],
    ["deploy", "status"],
    ["deploy", "rollback"],
    ["deploy", "summary"],
    ["deploy", "down"],
    ["ci", "config", "--need", "drift_source"],
    ["serve"],
]
# deploy and serve run where no params.yaml is (the image, a docker host): defaults stand in for it
RUN_WITHOUT_PARAMS = {("deploy",), ("serve",)}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_help_documents_every_code() -> None:
    code, out, _ = invoke("--help")
    assert code == ExitCode.OK
    for exit_code in ExitCode:
        assert f"{exit_code.value} " in out, f"`greenlight --help` does not explain {exit_code}"


def test_the_readme_documents_every_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Exit codes") :].split("\n## ", 1)[0]
    for exit_code in ExitCode:
        assert f"| {exit_code.value} |" in section, f"README's Exit codes lack {exit_code}"


def write_bundle(bundle: Path) -> Path:
    bundle.mkdir(parents=True)
    (bundle / "manifest.json").write_text('{"format": 1, "model_version": "lr-0123456789ab"}')
    return bundle


def assert_bad_input_naming(params: Path, command: list[str]) -> None:
    code, _, err = invoke(*command, "--params", str(params))
    assert code == ExitCode.BAD_INPUT, err
    assert err.startswith("error: ") and params.name in err and "Traceback" not in err


@pytest.mark.parametrize("command", PARAMS_COMMANDS, ids=" ".join)
def test_a_params_file_that_is_not_yaml_exits_2_naming_it(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_bundle(tmp_path / "models" / "bundle")  # what deploy reads before its params
    params = tmp_path / "broken.yaml"
    params.write_text("train: [unclosed\n")
    assert_bad_input_naming(params, command)


@pytest.mark.parametrize(
    "command",
    [command for command in PARAMS_COMMANDS if tuple(command[:1]) not in RUN_WITHOUT_PARAMS],
    ids=" ".join,
)
def test_a_missing_params_file_exits_2_naming_it(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_bad_input_naming(tmp_path / "missing.yaml", command)


@pytest.mark.parametrize(
    "command",
    [
        ["ci", "check-image", "ghcr.io/someone/else@sha256:" + "ab" * 32, "--name", "acme/shop"],
        ["ci", "check-ref", "no-such-ref-anywhere"],
    ],
    ids=lambda command: command[1],
)
def test_a_refused_check_exits_1_saying_refused(command: list[str]) -> None:
    code, _, err = invoke(*command)
    assert code == ExitCode.CHECK_FAILED, err
    assert err.startswith("refused: ")


def test_an_unreachable_github_exits_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = tmp_path / "comment.md"
    body.write_text("# greenlight: passed\n")
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    code, _, err = invoke("pr-comment", "--body", str(body), "--pr", "7")
    assert code == ExitCode.INFRASTRUCTURE, err
    assert "GitHub not reachable" in err


def test_a_missing_token_is_bad_input_not_infrastructure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = tmp_path / "comment.md"
    body.write_text("# greenlight: passed\n")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    code, _, err = invoke("pr-comment", "--body", str(body), "--pr", "7")
    assert code == ExitCode.BAD_INPUT and "GITHUB_TOKEN" in err


def test_no_container_engine_exits_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = write_bundle(tmp_path / "bundle")
    monkeypatch.setenv("PATH", str(tmp_path))  # neither docker nor podman
    code, _, err = invoke("containerize", "--bundle", str(bundle))
    assert code == ExitCode.INFRASTRUCTURE, err
    assert "no container engine" in err


def test_the_console_command_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    greenlight = Path(sys.executable).with_name("greenlight")
    done = subprocess.run(
        [str(greenlight), "gate", "--params", str(tmp_path / "none.yaml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == ExitCode.BAD_INPUT
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
