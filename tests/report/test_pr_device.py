"""What hardware the report says ran the pipeline: nvidia-smi parsing and the probe, with a fake
nvidia-smi on PATH (the real one is absent on CPU machines)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from greenlight.report import device
from greenlight.report.device import parse_cuda_version, parse_gpu_query

BANNER = """+------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.15        Driver Version: 550.54.15      CUDA Version: 12.4 |
|-------------------------------+----------------------+-----------------------+
"""


def fake_nvidia_smi(folder: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    executable = folder / "nvidia-smi"
    executable.write_text(f"#!/bin/sh\n{script}\n")
    executable.chmod(executable.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")


def test_parse_gpu_query_reads_every_gpu_and_the_driver() -> None:
    names, driver = parse_gpu_query("NVIDIA H100 80GB HBM3, 550.54.15\nNVIDIA L4, 550.54.15\n")
    assert names == ("NVIDIA H100 80GB HBM3", "NVIDIA L4")
    assert driver == "550.54.15"
    assert parse_gpu_query("") == ((), None)


def test_parse_cuda_version_from_the_banner() -> None:
    assert parse_cuda_version(BANNER) == "12.4"
    assert parse_cuda_version("no banner") is None


def test_probe_without_nvidia_smi_reports_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no nvidia-smi
    monkeypatch.setattr(device, "_torch_cuda", lambda: (None, False))
    found = device.probe()
    assert found.gpus == ()
    assert found.problem is None
    assert found.describe() == "**No GPU on this runner: the pipeline ran on CPU.**"


def test_probe_with_a_gpu_that_torch_can_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = f"""case "$1" in
  --query-gpu=*) echo "NVIDIA H100 80GB HBM3, 550.54.15" ;;
  *) cat <<'BANNER'
{BANNER}BANNER
;;
esac"""
    fake_nvidia_smi(tmp_path, script, monkeypatch)
    monkeypatch.setattr(device, "_torch_cuda", lambda: ("12.8", True))
    found = device.probe()
    assert found.gpus == ("NVIDIA H100 80GB HBM3",)
    assert (found.driver, found.cuda) == ("550.54.15", "12.4")
    assert found.gpu_used
    assert "CUDA 12.4; torch built for CUDA 12.8" in found.describe()


def test_probe_says_when_torch_cannot_use_the_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_nvidia_smi(tmp_path, 'echo "NVIDIA L4, 535.1"', monkeypatch)
    monkeypatch.setattr(device, "_torch_cuda", lambda: (None, False))
    found = device.probe()
    assert not found.gpu_used
    assert "cannot use it: the pipeline fell back to CPU" in found.describe()


def test_a_failing_nvidia_smi_is_reported_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
    fake_nvidia_smi(tmp_path, f'echo "{message}" >&2; exit 9', monkeypatch)
    monkeypatch.setattr(device, "_torch_cuda", lambda: (None, False))
    found = device.probe()
    assert found.problem == message
    assert f"(nvidia-smi failed: {message})" in found.describe()
