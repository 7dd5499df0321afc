"""Run one pipeline stage by name: what dvc.yaml's commands do (`bin/stage <name>`, i.e.
`python -m greenlight.stages <name>`) and what `greenlight <name>` does. It imports the stage's
module and nothing else of the package beyond config, so a stage's code dependencies are its
module's import closure, which `python -m tools.devtools.stage_deps` checks against
dvc.yaml. Every stage module has `main(params)`, returning the summary printed as JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from greenlight.config import DEFAULT_PARAMS, load_params
from greenlight.errors import ConfigError, GreenlightError

PACKAGE = "greenlight.stages"


def stage_module(name: str) -> Any:
    """greenlight.stages.<name>, which must have a `main(params)`."""
    if not name.isidentifier():
        raise ConfigError(f"{name!r} is not a stage name")
    try:
        module = importlib.import_module(f"{PACKAGE}.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"{PACKAGE}.{name}":
            raise  # the stage exists but one of its imports does not: a real bug
        raise ConfigError(f"no stage {name!r}: there is no {PACKAGE}.{name} module") from error
    if not callable(getattr(module, "main", None)):
        raise ConfigError(f"{PACKAGE}.{name} is not a stage: it has no main(params)")
    return module


def run_stage(name: str, params_path: Path = DEFAULT_PARAMS) -> Any:
    return stage_module(name).main(load_params(params_path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bin/stage", description="Run one pipeline stage.")
    parser.add_argument("stage", help="validate, featurize, train, evaluate, fairness, card, ...")
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS, help="params file")
    args = parser.parse_args(argv)
    try:
        summary = run_stage(args.stage, args.params)
    except GreenlightError as error:  # as the `greenlight` command: its message and its code
        print(error.shown(), file=sys.stderr)
        return int(error.exit_code)
    print(json.dumps(summary, indent=2, default=str))
    return 0
