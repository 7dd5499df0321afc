"""Errors a user can act on, and the exit codes of every `greenlight` command. Each error class
carries its exit code; the CLI prints `<prefix>: <message>` on stderr and exits with that code,
without a traceback (cli.py, one place). Anything else is a bug and keeps its traceback."""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """The one exit-code contract (README "Exit codes", `greenlight --help`)."""

    OK = 0
    CHECK_FAILED = 1  # a check or a policy said no: gate, ref/image check, a rollback happened
    BAD_INPUT = 2  # config, data, a model file, an argument or an environment variable is wrong
    DRIFT = 3  # drift or a performance degradation was found
    INFRASTRUCTURE = 4  # cluster, proxy, container engine, registry or a service failed


class GreenlightError(Exception):
    """Base class: the message says what is wrong and where. Bad input unless a subclass says
    otherwise."""

    exit_code: ClassVar[ExitCode] = ExitCode.BAD_INPUT
    prefix: ClassVar[str] = "error"

    def shown(self) -> str:
        """The line the CLI prints on stderr."""
        return f"{self.prefix}: {self}"


class ConfigError(GreenlightError, ValueError):
    """params.yaml (or another config) is missing, unreadable or has a value that does not fit."""


class MissingInputError(GreenlightError, FileNotFoundError):
    """A stage's input does not exist yet: run the stage that writes it first."""


class ArtifactError(GreenlightError, ValueError):
    """A model file is missing, altered, malformed or holds types we do not trust."""


class DataValidationError(GreenlightError, ValueError):
    """Raw data broke the dataset contract; the message lists each failing column and check."""


class CheckFailedError(GreenlightError):
    """A check refused what it was given (a ref not on the deploy branch, a foreign image)."""

    exit_code: ClassVar[ExitCode] = ExitCode.CHECK_FAILED
    prefix: ClassVar[str] = "refused"


class InfrastructureError(GreenlightError):
    """Something greenlight relies on is unavailable or failed mid-operation: the cluster, the
    proxy, the container engine, a registry, GitHub, a process that would not stop. The input
    may be fine: retrying once it is back can succeed."""

    exit_code: ClassVar[ExitCode] = ExitCode.INFRASTRUCTURE


class TargetBusyError(InfrastructureError):
    """Another deployment holds the target's lock."""
