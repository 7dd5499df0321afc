"""The report's inputs from disk and git: this branch's reports/ and params.yaml from the working
tree, the base's from `git show <ref>:<path>` (metrics.json and fairness.json are committed to git,
`cache: false` in dvc.yaml, so no DVC remote is needed to read the base)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from greenlight.config import read_yaml
from greenlight.errors import ConfigError, GreenlightError
from greenlight.files import read_json
from greenlight.report.render import Side

FIGURE_FOLDERS = ("figures", "fairness")  # under reports/: evaluation plots, then fairness plots
FIGURE_ORDER = ("roc", "precision_recall", "calibration", "confusion", "importance")


def head_side(reports: Path, params_path: Path) -> Side:
    params = read_yaml(params_path)
    if not isinstance(params, dict):
        raise ConfigError(f"{params_path}: expected a mapping of sections")
    return Side(
        metrics=read_json(reports / "metrics.json"),
        fairness=read_json(reports / "fairness.json"),
        params=params,
    )


def base_side(ref: str, reports: Path, params_path: Path) -> Side:
    """The base commit's files; a file the base does not have yet is None (e.g. the first PR)."""
    commit = resolve_ref(ref)
    metrics = git_file(commit, reports / "metrics.json")
    fairness = git_file(commit, reports / "fairness.json")
    params = git_file(commit, params_path)
    return Side(
        metrics=None if metrics is None else _json(metrics, f"{ref}:{reports}/metrics.json"),
        fairness=None if fairness is None else _json(fairness, f"{ref}:{reports}/fairness.json"),
        params=None if params is None else _yaml(params, f"{ref}:{params_path}"),
    )


def resolve_ref(ref: str) -> str:
    """The commit a ref names, or an error that says how to get it."""
    done = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if done.returncode != 0:
        raise GreenlightError(
            f"base ref {ref!r} is not a commit in this repository: fetch it "
            "(e.g. `git fetch origin main`) or pass another one with --base"
        )
    return done.stdout.strip()


def git_file(commit: str, path: Path) -> str | None:
    """A file's text at `commit` (path relative to the current directory), None if absent."""
    spec = f"{commit}:./{path.as_posix()}"
    if _git("cat-file", "-e", spec).returncode != 0:
        return None
    done = _git("show", spec)
    if done.returncode != 0:
        raise GreenlightError(f"git show {spec} failed: {done.stderr.strip()}")
    return done.stdout


def figures(reports: Path, relative_to: Path) -> list[str]:
    """The PNGs under reports/figures and reports/fairness, as paths relative to the comment:
    the evaluate stage's in reading order (FIGURE_ORDER), then any other, by name."""
    found = [path for folder in FIGURE_FOLDERS for path in sorted((reports / folder).glob("*.png"))]
    found.sort(key=lambda path: (FIGURE_FOLDERS.index(path.parent.name), _rank(path.stem)))
    return [Path(os.path.relpath(path, relative_to)).as_posix() for path in found]


def _rank(stem: str) -> int:
    return FIGURE_ORDER.index(stem) if stem in FIGURE_ORDER else len(FIGURE_ORDER)


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise GreenlightError("git is not installed: the report reads the base from git") from error


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise GreenlightError(f"{where} is not valid JSON: {error}") from error


def _yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{where}: not valid YAML: {error}") from error
