"""What can go wrong before drift is even measured. Each is bad input (a GreenlightError): the
CLI prints the message and exits 2; drift itself exits 3 (`ExitCode.DRIFT`)."""

from __future__ import annotations

from greenlight.errors import GreenlightError, MissingInputError


class MissingLogError(MissingInputError):
    """No prediction log file at the configured path: fetch it first (`make drift-fetch`)."""


class NoLogShippedError(MissingLogError):
    """The source exists as configured but holds no log yet: nothing has been shipped there."""


class SchemaMismatchError(GreenlightError, ValueError):
    """The logged features are not the deployed model's features (missing, extra, wrong type)."""


class EmptyWindowError(GreenlightError, ValueError):
    """The log holds no prediction, or none in the configured window."""


class ModelVersionError(GreenlightError, ValueError):
    """The log holds no prediction of the bundle's model version: the traffic is another model's."""
