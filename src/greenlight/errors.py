"""Errors a user can act on. The CLI prints their message and exits non-zero, without a traceback;
anything else is a bug and keeps its traceback."""


class GreenlightError(Exception):
    """Base class: the message says what is wrong and where."""


class ConfigError(GreenlightError, ValueError):
    """params.yaml (or another config) is missing, unreadable or has a value that does not fit."""


class MissingInputError(GreenlightError, FileNotFoundError):
    """A stage's input does not exist yet: run the stage that writes it first."""


class ArtifactError(GreenlightError, ValueError):
    """A model file is missing, altered, malformed or holds types we do not trust."""


class DataValidationError(GreenlightError, ValueError):
    """Raw data broke the dataset contract; the message lists each failing column and check."""
