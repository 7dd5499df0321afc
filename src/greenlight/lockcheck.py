"""Does the committed dvc.lock name what `dvc repro` produced? After the CI repro, any difference
means the pull request does not ship what it builds: the author forgot to commit dvc.lock, or
committed a stale one. `greenlight check-lock` fails naming each stage and path that differs, and
the PR report says so in its verdict."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from greenlight.errors import ConfigError
from greenlight.gitinfo import git_show

LOCK = Path("dvc.lock")


@dataclass(frozen=True)
class StaleStage:
    stage: str
    paths: tuple[str, ...]  # deps and outs by path, params as `file:key`, or what else differs

    def describe(self) -> str:
        return f"{self.stage} ({', '.join(self.paths)})"


def recorded(stage: dict[str, Any]) -> dict[str, Any]:
    """What dvc.lock records for one stage, keyed by path (params as `params.yaml:key`)."""
    entries: dict[str, Any] = {"cmd": stage.get("cmd")}
    for kind in ("deps", "outs"):
        for item in stage.get(kind) or []:
            entries[item["path"]] = {key: value for key, value in item.items() if key != "path"}
    for file, values in (stage.get("params") or {}).items():
        entries.update({f"{file}:{key}": value for key, value in values.items()})
    return entries


def stale_stages(committed: dict[str, Any], produced: dict[str, Any]) -> list[StaleStage]:
    """Every stage whose record differs, in the produced file's order, then the stages only the
    committed file has."""
    old, new = committed.get("stages") or {}, produced.get("stages") or {}
    stale = []
    for name in [*new, *(name for name in old if name not in new)]:
        if name not in old or name not in new:
            side = "committed" if name not in old else "reproduced"
            stale.append(StaleStage(name, (f"absent from the {side} dvc.lock",)))
            continue
        before, after = recorded(old[name]), recorded(new[name])
        differing = [key for key in {**after, **before} if before.get(key) != after.get(key)]
        if differing:
            stale.append(StaleStage(name, tuple(differing)))
    return stale


def compare(committed_text: str | None, produced_text: str) -> list[StaleStage]:
    """The stale stages; the same records written differently still count (byte-identical is the
    promise), as one entry for the file."""
    if committed_text is None:
        return [StaleStage("dvc.lock", ("not committed at all",))]
    stale = stale_stages(_parse(committed_text, "committed"), _parse(produced_text, "produced"))
    if not stale and committed_text != produced_text:
        stale = [StaleStage("dvc.lock", ("same records, written differently",))]
    return stale


def check(lock: Path = LOCK, ref: str = "HEAD") -> list[StaleStage]:
    """Compare `ref`'s dvc.lock with the one in the workspace (what the repro just wrote)."""
    if not lock.is_file():
        raise ConfigError(f"{lock} not found: run `dvc repro` first")
    return compare(git_show(ref, lock), lock.read_text())


def verdict(stale: list[StaleStage]) -> str:
    return "dvc.lock is stale: stages " + "; ".join(stage.describe() for stage in stale)


def _parse(text: str, side: str) -> dict[str, Any]:
    try:
        parsed = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"the {side} dvc.lock is not valid YAML: {error}") from error
    if not isinstance(parsed, dict):
        raise ConfigError(f"the {side} dvc.lock is not a mapping")
    return parsed
