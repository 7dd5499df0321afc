"""Run a server (`greenlight serve` unless told otherwise) as a child process on a free 127.0.0.1
port, for the benchmarks, the demos and the tests. It is started, tracked and stopped by the local
deploy target's own process helper (greenlight.deploy.targets.processes: a session of its own,
every process of its tree found by tag, stopped by PID), and it is ready when the rollout's own
readiness wait (greenlight.deploy.readiness) says so: one way to do each, for runtime and tools."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from greenlight.deploy.readiness import Probes, wait_ready
from greenlight.deploy.targets import processes
from greenlight.errors import GreenlightError
from greenlight.localnet import HOST, free_port
from greenlight.settings_base import DEFAULT_PARAMS

STOP_GRACE_S = 30.0


def unwind_on_termination() -> None:
    """SIGTERM, SIGINT and SIGHUP raise SystemExit, so the `with` blocks that started servers
    stop them (Python's default SIGTERM ends the process without running them)."""

    def unwind(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, unwind)


class ServerError(GreenlightError, RuntimeError):
    """The server did not start, did not become ready in time, or exited."""


def wait_until_ready(
    base_url: str, record: processes.ProcessRecord, within_s: float, output: Path
) -> None:
    """Until GET /readyz at `base_url` answers 200 (the rollout's wait, with the process's exit
    as the reason to stop early); ServerError with the end of its output otherwise."""
    probes = Probes(available=lambda: True, failure=lambda: processes.exit_reason(record))
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        check = wait_ready(client, within_s, probes)
    if not check.passed:
        text = output.read_text(errors="replace") if output.exists() else ""
        raise ServerError(f"{base_url}: {check.detail}\n{text[-4000:]}")


@dataclass
class RunningServer:
    record: processes.ProcessRecord
    port: int
    output: Path  # the server's stdout and stderr
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.record.pid

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @classmethod
    @contextmanager
    def start(
        cls,
        bundle: Path,
        prediction_log: Path,
        params: Path = DEFAULT_PARAMS,
        environment: Mapping[str, str] | None = None,
        ready_within: float | None = 120.0,
    ) -> Iterator[RunningServer]:
        """`greenlight serve` of `bundle` until the block ends; waits for readiness unless
        ready_within is None."""
        options = {"--bundle": bundle, "--prediction-log": prediction_log, "--params": params}
        arguments = [str(part) for pair in options.items() for part in pair]

        def command(port: int) -> list[str]:
            serve = [sys.executable, "-m", "greenlight", "serve", "--host", HOST]
            return [*serve, "--port", str(port), *arguments]

        with cls.run(command, environment, ready_within) as server:
            server.settings = {key: str(value) for key, value in options.items()}
            yield server

    @classmethod
    @contextmanager
    def run(
        cls,
        command: Callable[[int], list[str]],
        environment: Mapping[str, str] | None = None,
        ready_within: float | None = 120.0,
    ) -> Iterator[RunningServer]:
        """Any server command line (given the port to use), stopped when the block ends."""
        with tempfile.TemporaryDirectory(prefix="greenlight-serve-") as scratch:
            server = cls.launch(command, environment, Path(scratch) / "server.log")
            try:
                if ready_within is not None:
                    server.wait_ready(ready_within)
                yield server
            finally:
                server.stop()

    @classmethod
    def launch(
        cls,
        command: Callable[[int], list[str]],
        environment: Mapping[str, str] | None,
        output: Path,
    ) -> RunningServer:
        port = free_port()
        record = processes.spawn(command(port), output, {**os.environ, **(environment or {})})
        return cls(record=record, port=port, output=output)

    def log_text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def status(self, path: str) -> int | None:
        """The HTTP status of GET `path`, or None while nothing answers."""
        try:
            return httpx.get(f"{self.base_url}{path}", timeout=2.0).status_code
        except httpx.TransportError:
            return None

    def wait_ready(self, within: float) -> None:
        wait_until_ready(self.base_url, self.record, within, self.output)

    def tree(self) -> list[psutil.Process]:
        """Every running process of the server: the supervisor and its workers, also those
        BentoML put in groups of their own or that a killed supervisor orphaned."""
        return processes.tree(self.record)

    def exit_code(self, within: float) -> int:
        """The server's exit status once it has ended by itself (waits up to `within` s)."""
        return processes.wait_exit(self.record, within)

    def stop(self, within: float = STOP_GRACE_S) -> list[int]:
        """SIGTERM its whole tree, SIGKILL what is left after `within` s; the pids killed."""
        return processes.stop_tree(self.record, grace_s=within)
