"""What every settings model of params.yaml is built on: the strict base, the YAML reader and the
one error format, `<file>: <dotted.key>: <problem>`. It imports nothing of greenlight but the
errors, so each section's model (pipeline, serving, deploy, monitor) can live with its command
and greenlight.settings can still compose them all into one."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from greenlight.errors import ConfigError

DEFAULT_PARAMS = Path("params.yaml")


class SettingsError(ConfigError):
    """A params file is missing, unreadable, or a key in it is unknown or has a bad value; the
    message names the file and each dotted key."""


class Strict(BaseModel):
    """The base of every settings model: an unknown key is an error at every level."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_Model = TypeVar("_Model", bound=BaseModel)


def check(model: type[_Model], raw: object, source: object, section: str = "") -> _Model:
    """`raw` as `model`, or one SettingsError: `<source>: <section>.<key>: <problem>; ...`."""
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as error:
        problems = "; ".join(_describe(problem, section) for problem in error.errors())
        raise SettingsError(f"{source}: {problems}") from error


def read_yaml(path: Path) -> object:
    if not path.is_file():  # absent, or a folder
        raise SettingsError(f"{path}: file not found")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SettingsError(f"{path}: not valid YAML: {error}") from error


def _describe(problem: dict, section: str) -> str:
    key = ".".join(str(part) for part in (*([section] if section else []), *problem["loc"]))
    return f"{key}: {problem['msg']}" if key else problem["msg"]  # a whole-file check has no key
