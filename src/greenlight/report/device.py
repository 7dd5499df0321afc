"""Which accelerator the runner has, for the report: the GPU (name, driver, the CUDA version the
driver supports) from nvidia-smi, and whether torch can use it. It says plainly when the run fell
back to CPU: no GPU at all, or a GPU that torch cannot use (a CPU-only build, a driver mismatch)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

NVIDIA_SMI_TIMEOUT_S = 20  # a wedged driver must not hang the report


@dataclass(frozen=True)
class Device:
    gpus: tuple[str, ...] = ()  # one name per GPU, as nvidia-smi lists them
    driver: str | None = None
    cuda: str | None = None  # the CUDA version the driver supports
    torch_cuda: str | None = None  # the CUDA version torch was built for; None: CPU-only build
    torch_sees_gpu: bool = False
    problem: str | None = None  # why nvidia-smi gave no answer, when it is installed but failed

    @property
    def gpu_used(self) -> bool:
        return bool(self.gpus) and self.torch_sees_gpu

    def describe(self) -> str:
        if not self.gpus:
            why = f" (nvidia-smi failed: {self.problem})" if self.problem else ""
            return f"**No GPU on this runner{why}: the pipeline ran on CPU.**"
        names = ", ".join(self.gpus)
        detail = f"driver {self.driver or 'unknown'}, CUDA {self.cuda or 'unknown'}"
        if not self.torch_sees_gpu:
            build = f"built for CUDA {self.torch_cuda}" if self.torch_cuda else "a CPU-only build"
            return (
                f"**GPU {names} ({detail}) is present but torch ({build}) cannot use it: "
                "the pipeline fell back to CPU.**"
            )
        return f"GPU: {names} ({detail}; torch built for CUDA {self.torch_cuda})."


def parse_gpu_query(text: str) -> tuple[tuple[str, ...], str | None]:
    """`nvidia-smi --query-gpu=name,driver_version --format=csv,noheader` -> (names, driver)."""
    rows = [line.rsplit(",", 1) for line in text.splitlines() if line.strip()]
    names = tuple(row[0].strip() for row in rows)
    drivers = {row[1].strip() for row in rows if len(row) == 2}
    return names, (", ".join(sorted(drivers)) or None)


def parse_cuda_version(text: str) -> str | None:
    """The `CUDA Version: 12.4` of nvidia-smi's banner."""
    found = re.search(r"CUDA Version:\s*([0-9.]+)", text)
    return found.group(1) if found else None


def probe() -> Device:
    query, problem = _nvidia_smi("--query-gpu=name,driver_version", "--format=csv,noheader")
    torch_cuda, torch_sees_gpu = _torch_cuda()
    if query is None:
        return Device(torch_cuda=torch_cuda, problem=problem)
    names, driver = parse_gpu_query(query)
    cuda = parse_cuda_version(_nvidia_smi()[0] or "")
    return Device(names, driver, cuda, torch_cuda, torch_sees_gpu)


def _nvidia_smi(*args: str) -> tuple[str | None, str | None]:
    """(output, None), or (None, why) when it failed; (None, None) where there is no NVIDIA
    driver at all (most laptops, CPU runners)."""
    try:
        done = subprocess.run(
            ["nvidia-smi", *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
        )
    except FileNotFoundError:
        return None, None
    except subprocess.CalledProcessError as error:
        message = error.stderr or error.stdout or f"exit {error.returncode}"
        return None, " ".join(message.split())[:200]
    except subprocess.TimeoutExpired:
        return None, f"no answer within {NVIDIA_SMI_TIMEOUT_S} s"
    return done.stdout, None


def _torch_cuda() -> tuple[str | None, bool]:
    import torch  # noqa: PLC0415  (heavy: only when the report runs)

    return torch.version.cuda, bool(torch.cuda.is_available())
