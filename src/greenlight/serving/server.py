"""Run `greenlight serve` as a child process on a free 127.0.0.1 port, for benchmarks, tests and
demos: wait until /readyz answers 200, and stop it (SIGTERM, then SIGKILL of its own process
group if it does not exit in time, and of any process of its tree still running)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from greenlight.config import DEFAULT_PARAMS
from greenlight.errors import GreenlightError
from greenlight.localnet import HOST, free_port


def unwind_on_termination() -> None:
    """SIGTERM, SIGINT and SIGHUP raise SystemExit, so the `with` blocks that started servers
    stop them (Python's default SIGTERM ends the process without running them)."""

    def unwind(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, unwind)


class ServerError(GreenlightError, RuntimeError):
    """The service did not start, did not become ready in time, or exited."""


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    port: int
    output: Path  # the server's stdout and stderr
    settings: dict[str, str] = field(default_factory=dict)
    descendants: dict[int, psutil.Process] = field(default_factory=dict)

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
        with output.open("wb") as sink:
            process = subprocess.Popen(
                command(port),
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(environment or {})},
                start_new_session=True,  # its own process group: stop() never reaches others
            )
        return cls(process=process, port=port, output=output)

    def log_text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def status(self, path: str) -> int | None:
        """The HTTP status of GET `path`, or None while nothing answers."""
        try:
            return httpx.get(f"{self.base_url}{path}", timeout=2.0).status_code
        except httpx.TransportError:
            return None

    def wait_ready(self, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"server exited ({self.process.returncode}):\n{self.log_text()}")
            if self.status("/readyz") == 200:
                self.tree()  # remember the workers now: they outlive a killed supervisor
                return
            time.sleep(0.2)
        raise ServerError(f"server not ready within {within:.0f} s:\n{self.log_text()}")

    def tree(self) -> list[psutil.Process]:
        """The server's descendants, now and as seen before (BentoML's workers run in process
        groups of their own, and are orphaned, not stopped, when the supervisor is killed)."""
        try:
            now = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            now = []
        self.descendants.update({process.pid: process for process in now})
        return list(self.descendants.values())

    def stop(self, within: float = 30.0) -> int:
        """SIGTERM and wait; then SIGKILL whatever is left of its process tree."""
        tree = self.tree()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(within)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(within)
        _kill_survivors(tree, within)
        return int(self.process.returncode)


def _kill_survivors(tree: list[psutil.Process], within: float) -> None:
    """SIGKILL each process of `tree` still running (psutil checks a pid was not reused)."""
    _, alive = psutil.wait_procs(tree, timeout=min(within, 5.0))
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=within)
