"""Where the code came from: the git commit and whether the working tree had local changes."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GitState:
    commit: str
    dirty: bool

    @property
    def short(self) -> str:
        return self.commit[:12]


def git_state() -> GitState:
    """HEAD and a dirty flag; dvc.lock is ignored because `dvc repro` itself rewrites it."""
    head = _git("rev-parse", "HEAD")
    if head is None:
        return GitState(commit="unknown", dirty=True)
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!dvc.lock")
    return GitState(commit=head, dirty=bool(status))


def git_show(ref: str, path: Path) -> str | None:
    """The text of `path` at `ref`, or None where that commit has no such file (or no git)."""
    return _git("show", f"{ref}:./{path.as_posix()}", strip=False)  # ./: relative to here


def _git(*args: str, strip: bool = True) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    except (FileNotFoundError, subprocess.CalledProcessError):
        return None  # not a git checkout (e.g. an unpacked release): provenance says "unknown"
    return done.stdout.strip() if strip else done.stdout
