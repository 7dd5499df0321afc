"""`greenlight pr-comment`: the pull request's one report comment, edited on every push.

The comment is found by a hidden marker line that only greenlight writes, so a second push edits
the first comment instead of adding another. This replaces `npx @dvcorg/cml comment update`: npx
resolved CML's dependencies at run time with install scripts on, in the job holding the write
token, and CML uploads every linked image to a third-party asset host by default. Here the body is
posted as it is, through the project's own REST client (`greenlight.github`), nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from greenlight.errors import ConfigError, MissingInputError
from greenlight.github import Comment

MARKER = "<!-- greenlight:pr-report -->"
BODY_LIMIT = 65_536  # GitHub refuses a longer comment body


class CommentThread(Protocol):
    def comments(self, number: int) -> list[Comment]: ...
    def create_comment(self, number: int, body: str) -> Comment: ...
    def edit_comment(self, comment_id: int, body: str) -> Comment: ...


@dataclass(frozen=True)
class Posted:
    action: str  # "created" or "updated"
    comment: Comment

    def describe(self, number: int) -> str:
        return f"{self.action} the report comment on pull request #{number}: {self.comment.url}"


def marked(report: str) -> str:
    """The body as posted: the marker line first, then the report."""
    body = f"{MARKER}\n{report.rstrip()}\n"
    if len(body) > BODY_LIMIT:
        raise ConfigError(
            f"the report is {len(body)} characters with its marker; GitHub takes {BODY_LIMIT}"
        )
    return body


def sticky(comments: list[Comment]) -> Comment | None:
    """The oldest comment that starts with the marker (the one greenlight posted first)."""
    return next((item for item in comments if item.body.startswith(MARKER)), None)


def post_report(thread: CommentThread, number: int, report: str) -> Posted:
    body = marked(report)
    found = sticky(thread.comments(number))
    if found is None:
        return Posted("created", thread.create_comment(number, body))
    return Posted("updated", thread.edit_comment(found.id, body))


def pr_number(event_path: str | None) -> int:
    """The pull request's number from the event payload Actions writes at GITHUB_EVENT_PATH."""
    if not event_path:
        raise ConfigError("no pull request number: pass --pr N or set GITHUB_EVENT_PATH")
    path = Path(event_path)
    if not path.is_file():
        raise MissingInputError(f"GITHUB_EVENT_PATH {path} does not exist")
    return _number(json.loads(path.read_text(encoding="utf-8")), path)


def _number(payload: Any, path: Path) -> int:
    pull = payload.get("pull_request") if isinstance(payload, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        raise ConfigError(f"{path} is not a pull_request event: it has no pull_request.number")
    return number


def read_report(path: Path) -> str:
    if not path.is_file():
        raise MissingInputError(f"{path} not found: run `greenlight report` (make pr-report) first")
    return path.read_text(encoding="utf-8")
