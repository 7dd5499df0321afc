"""`greenlight ci check-ref` and `check-image` on a real temporary git repository: only commits on
main deploy; a rollback names a digest of this repository's image."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from greenlight.ci.refs import ImageError, RefError, check_image, check_ref, check_workflow_ref

DIGEST = "sha256:" + "ab" * 32


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(repo: Path, name: str) -> str:
    (repo / name).write_text(name)
    git(repo, "add", name)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", name)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, str]:
    """main: a - b (origin/main at b); branch feature: a - b - f; refs/pull/1/head: a - p."""
    origin, clone = tmp_path / "origin", tmp_path / "clone"
    git(tmp_path, "init", "-q", "-b", "main", str(origin))
    shas = {"a": commit(origin, "a")}
    git(origin, "checkout", "-q", "-b", "side")
    shas["p"] = commit(origin, "p")
    git(origin, "update-ref", "refs/pull/1/head", shas["p"])
    git(origin, "checkout", "-q", "main")
    shas["b"] = commit(origin, "b")
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "fetch", "-q", "origin", "refs/pull/1/head:refs/remotes/origin/pull/1")
    git(clone, "checkout", "-q", "-b", "feature")
    shas["f"] = commit(clone, "f")
    return {**shas, "dir": str(clone)}


def test_commits_on_main_are_accepted_by_name_or_sha(repo: dict[str, str]) -> None:
    where = Path(repo["dir"])
    assert check_ref(repo["a"], repo=where) == repo["a"]
    assert check_ref(repo["b"][:10], repo=where) == repo["b"]
    assert check_ref("origin/main", repo=where) == repo["b"]


@pytest.mark.parametrize("ref", ["feature", "f", "origin/pull/1", "p"])
def test_unmerged_branches_and_pull_request_heads_are_refused(
    repo: dict[str, str], ref: str
) -> None:
    ref = repo.get(ref, ref)
    with pytest.raises(RefError, match="is not a commit on origin/main"):
        check_ref(ref, repo=Path(repo["dir"]))


@pytest.mark.parametrize("ref", ["no-such-branch", "", "--upload-pack=evil", "0" * 40])
def test_what_is_no_commit_is_refused_naming_it(repo: dict[str, str], ref: str) -> None:
    with pytest.raises(RefError, match=r"no commit|not a git ref"):
        check_ref(ref, repo=Path(repo["dir"]))


def test_the_command_writes_the_full_sha_or_exits_1(repo: dict[str, str], tmp_path: Path) -> None:
    output = tmp_path / "out"
    command = [sys.executable, "-m", "greenlight", "ci", "check-ref"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        full = [*command, *args, "--github-output", str(output)]
        return subprocess.run(full, cwd=repo["dir"], capture_output=True, text=True, check=False)

    done = run(repo["a"][:8])
    assert done.returncode == 0, done.stderr
    assert output.read_text() == f"sha={repo['a']}\n"
    done = run("feature")
    assert done.returncode == 1 and "refused: feature" in done.stderr
    assert output.read_text() == f"sha={repo['a']}\n"


def test_a_run_of_deploy_yml_from_another_branch_is_refused(repo: dict[str, str], tmp_path) -> None:
    """A dispatch runs the chosen branch's copy of deploy.yml: only main's may deploy."""
    with pytest.raises(RefError, match="comes from refs/heads/feature, not refs/heads/main"):
        check_workflow_ref("refs/heads/feature")
    check_workflow_ref("refs/heads/main")
    command = [sys.executable, "-m", "greenlight", "ci", "check-ref", repo["a"]]
    done = subprocess.run(
        [*command, "--workflow-ref", "refs/pull/1/merge"],
        cwd=repo["dir"], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "not refs/heads/main" in done.stderr


def test_a_rollback_digest_of_this_image_is_accepted() -> None:
    image = f"ghcr.io/acme/shop@{DIGEST}"
    assert check_image(image, "ghcr.io/Acme/Shop") == image


@pytest.mark.parametrize(
    ("image", "reason"),
    [("ghcr.io/acme/shop:v1", "not an image digest"), ("ghcr.io/acme/shop@sha256:abc", "not an"),
     (f"ghcr.io/evil/shop@{DIGEST}", "not this repository's image"), ("", "not an image digest")],
)  # fmt: skip
def test_tags_short_digests_and_other_images_are_refused(image: str, reason: str) -> None:
    with pytest.raises(ImageError, match=reason):
        check_image(image, "ghcr.io/acme/shop")
