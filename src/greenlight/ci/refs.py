"""Which commit a deployment may build, and which image a rollback may redeploy.

`check_ref` resolves a dispatched ref to a commit and accepts it only when it is on the deploy
branch (`git merge-base --is-ancestor <sha> origin/main`): an unreviewed branch, a fork's
`refs/pull/N/head` or a tag of either is refused before any job with a write grant starts.
`check_image` accepts only `<the repository's image>@sha256:<64 hex>`: a digest names exactly the
bytes that ran before, a tag could have been pushed over since."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from greenlight.errors import CheckFailedError

DIGEST = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._/:-]*)@sha256:[0-9a-f]{64}$")
GIT_TIMEOUT_S = 60


class RefError(CheckFailedError, ValueError):
    """The ref to deploy is no commit, or not one on the deploy branch."""


class ImageError(CheckFailedError, ValueError):
    """The image to roll back to is not a digest of this repository's image."""


def check_ref(ref: str, branch: str = "origin/main", repo: Path = Path()) -> str:
    """The full SHA of `ref`, if it is a commit on `branch` (else RefError)."""
    sha = resolve(ref, repo)
    if not _is_ancestor(sha, resolve(branch, repo), repo):
        raise RefError(
            f"{ref} ({sha[:12]}) is not a commit on {branch}: only reviewed, merged commits "
            "deploy (merge its pull request first)"
        )
    return sha


def check_workflow_ref(workflow_ref: str, expected: str = "refs/heads/main") -> None:
    """The deploy workflow itself must run from main: a dispatch from another branch runs that
    branch's copy of deploy.yml, which nobody reviewed."""
    if workflow_ref != expected:
        raise RefError(
            f"this run's workflow comes from {workflow_ref or 'an unknown ref'}, not {expected}: "
            f"dispatch deploy from {expected.removeprefix('refs/heads/')}"
        )


def resolve(ref: str, repo: Path) -> str:
    if not ref or ref.startswith("-"):
        raise RefError(f"{ref!r} is not a git ref")
    done = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if done.returncode != 0:
        raise RefError(
            f"{ref} is no commit in this clone (fetch it with its history: fetch-depth 0)"
        )
    return done.stdout.strip()


def _is_ancestor(sha: str, tip: str, repo: Path) -> bool:
    done = _git(repo, "merge-base", "--is-ancestor", sha, tip)
    if done.returncode not in (0, 1):
        raise RefError(f"git merge-base --is-ancestor {sha} {tip} failed: {done.stderr.strip()}")
    return done.returncode == 0


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["git", "-C", str(repo), *args]
    return subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=GIT_TIMEOUT_S
    )


def check_image(image: str, name: str) -> str:
    """`image` if it is `name@sha256:<digest>` (else ImageError)."""
    found = DIGEST.match(image.strip())
    if found is None:
        raise ImageError(
            f"{image!r} is not an image digest: give <image>@sha256:<64 hex>, as a deploy run's "
            "summary lists it (a tag may have been pushed over since)"
        )
    if found.group("name") != name.lower():
        raise ImageError(f"{found.group('name')} is not this repository's image {name.lower()}")
    return image.strip()
