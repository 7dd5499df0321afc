"""`greenlight serve` before it becomes the server: settings, command, environment, and the
problems it reports in the caller's terminal instead of starting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from greenlight.errors import ArtifactError, ConfigError
from greenlight.serving import launch
from greenlight.serving.settings import from_environment


def test_paths_become_absolute_and_options_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GREENLIGHT_PREDICTION_LOG", "from-env.jsonl")
    settings = launch.resolve(tmp_path / "none.yaml", Path("b"), None, workers=2)
    assert settings.bundle == tmp_path / "b"
    assert settings.prediction_log == tmp_path / "from-env.jsonl"
    assert settings.workers == 2


def test_the_server_gets_its_settings_and_one_openmp_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    settings = launch.resolve(tmp_path / "none.yaml", tmp_path / "b", tmp_path / "p.jsonl", None)
    environment = launch.server_environment(settings)
    assert from_environment(environment) == settings
    assert environment["OMP_NUM_THREADS"] == "1"
    assert environment["BENTOML_DO_NOT_TRACK"] == "True"
    command = launch.server_command("127.0.0.1", 3456)
    assert command[:4] == [sys.executable, "-m", "bentoml", "serve"]
    assert command[-4:] == ["--host", "127.0.0.1", "--port", "3456"]


def test_a_missing_bundle_is_reported_before_starting(tmp_path: Path) -> None:
    settings = launch.resolve(
        tmp_path / "none.yaml", tmp_path / "nothing", tmp_path / "p.jsonl", None
    )
    with pytest.raises(ArtifactError, match="no manifest"):
        launch.check_ready_to_start(settings)


def test_an_unwritable_log_directory_is_reported(tmp_path: Path, bundle_copy: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where a directory should be")
    settings = launch.resolve(tmp_path / "none.yaml", bundle_copy, blocked / "p.jsonl", None)
    with pytest.raises(ConfigError, match="prediction log directory"):
        launch.check_ready_to_start(settings)


def test_the_command_exits_2_with_the_reason(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "greenlight", "serve", "--bundle", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GREENLIGHT_PREDICTION_LOG": str(tmp_path / "p.jsonl")},
        check=False,
    )
    assert result.returncode == 2
    assert "no manifest" in result.stderr


def test_the_log_switch_comes_from_the_file_the_environment_then_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("serving:\n  log_predictions: false\n")
    assert launch.resolve(params, None, None, None).log_predictions is False
    monkeypatch.setenv("GREENLIGHT_LOG_PREDICTIONS", "true")
    assert launch.resolve(params, None, None, None).log_predictions is True
    assert launch.resolve(params, None, None, None, log_predictions=False).log_predictions is False
    settings = launch.resolve(params, None, None, None, log_predictions=False)
    assert from_environment(launch.server_environment(settings)).log_predictions is False


def test_without_a_supervisor_it_runs_one_worker_on_a_socket_it_holds() -> None:
    with launch.listen("127.0.0.1", 0) as listening:
        assert listening.get_inheritable()
        command = launch.worker_command(listening)
        fd = str(listening.fileno())
    assert command[:3] == [sys.executable, "-m", launch.WORKER]
    assert command[3:] == [launch.SERVICE, "--fd", fd, "--worker-id", "1"]


def test_a_port_in_use_is_reported_before_starting() -> None:
    with launch.listen("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            launch.listen("127.0.0.1", port)


def test_no_supervisor_means_one_worker(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("serving:\n  supervisor: false\n  workers: 2\n")
    with pytest.raises(ConfigError, match=r"serving\.supervisor: .*workers must be 1 \(got 2\)"):
        launch.resolve(params, None, None, None)


def test_the_metrics_directory_is_emptied_at_each_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch.tempfile, "gettempdir", lambda: str(tmp_path))
    (launch.metrics_directory(4321) / "counter_1.db").write_bytes(b"stale")
    directory = launch.metrics_directory(4321)
    assert directory == tmp_path / "greenlight-metrics-4321"
    assert list(directory.iterdir()) == []
