"""The report's inputs from disk and git: this branch's reports/ and params.yaml from the working
tree, the base's from `git show <ref>:<path>`. Every file read here is committed to git
(`cache: false` in dvc.yaml: the JSON reports and the plot tables), so reading the base needs no
DVC remote and recomputes nothing."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from greenlight.errors import ConfigError, GreenlightError
from greenlight.files import read_json
from greenlight.report.render import Side
from greenlight.settings import read_sections

# The PNG renderings under reports/, in reading order: kept as a workflow artifact, never linked
# from the comment (an image link would need the file hosted somewhere outside GitHub).
FIGURE_FOLDERS = ("figures", "fairness", "explain")
FIGURE_ORDER = ("roc", "precision_recall", "calibration", "confusion", "importance")
REQUIRED = {"metrics": "metrics.json", "fairness": "fairness.json"}
OPTIONAL = {
    "importance": "importance.json",
    "explanations": "explanations.json",
    "validation": "validation.json",
    "cost": "cost.json",
}
CURVES = ("roc", "precision_recall", "calibration")  # reports/plots/<name>.csv


def head_side(reports: Path, params_path: Path) -> Side:
    params = read_sections(params_path)
    found = {key: read_json(reports / name) for key, name in REQUIRED.items()}
    found |= {key: _optional_json(reports / name) for key, name in OPTIONAL.items()}
    return Side(params=params, curves=_head_curves(reports / "plots"), **found)


def base_side(ref: str, reports: Path, params_path: Path) -> Side:
    """The base commit's files; a file the base does not have yet is None (e.g. the first PR)."""
    commit = resolve_ref(ref)
    names = {**REQUIRED, **OPTIONAL}
    found = {key: _git_json(commit, ref, reports / name) for key, name in names.items()}
    params = git_file(commit, params_path)
    curves = {name: _git_csv(commit, reports / "plots" / f"{name}.csv") for name in CURVES}
    return Side(
        params=None if params is None else _yaml(params, f"{ref}:{params_path}"),
        curves={name: table for name, table in curves.items() if table is not None},
        **found,
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
    """The PNGs under reports/{figures,fairness,explain}, as paths relative to `relative_to`:
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


def _optional_json(path: Path) -> Any:
    return read_json(path) if path.is_file() else None


def _head_curves(folder: Path) -> dict[str, pd.DataFrame]:
    paths = {name: folder / f"{name}.csv" for name in CURVES}
    return {name: pd.read_csv(path) for name, path in paths.items() if path.is_file()}


def _git_json(commit: str, ref: str, path: Path) -> Any:
    text = git_file(commit, path)
    return None if text is None else _json(text, f"{ref}:{path.as_posix()}")


def _git_csv(commit: str, path: Path) -> pd.DataFrame | None:
    text = git_file(commit, path)
    return None if text is None else pd.read_csv(io.StringIO(text))


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
