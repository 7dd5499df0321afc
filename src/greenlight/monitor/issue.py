"""One open GitHub issue for drift, never two: find the open issues carrying the label; none ->
create one (with the label); otherwise update the oldest one's body to the latest report and
comment, so watchers are notified. The logic talks to GitHub through the small `IssueTracker`
interface, so it is tested against a fake; `greenlight.github.GitHub` is the real REST client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from greenlight.github import Issue

TITLE = "Drift detected in production traffic"
BODY_LIMIT = 60_000  # GitHub refuses bodies over 65,536 characters
LABEL_COLOR = "d93f0b"
LABEL_DESCRIPTION = "Production traffic drifted from the training data (greenlight drift)"


class IssueTracker(Protocol):
    def open_issues(self, label: str) -> list[Issue]: ...
    def ensure_label(self, name: str, color: str, description: str) -> None: ...
    def create_issue(self, title: str, body: str, labels: list[str]) -> Issue: ...
    def update_issue(self, number: int, body: str) -> None: ...
    def comment(self, number: int, body: str) -> None: ...


@dataclass(frozen=True)
class IssueAction:
    action: str  # "created" or "updated"
    issue: Issue
    other_open: tuple[int, ...] = ()  # further open drift issues (made by hand): left alone

    def describe(self) -> str:
        text = f"{self.action} drift issue #{self.issue.number}: {self.issue.url}"
        if self.other_open:
            others = ", ".join(f"#{number}" for number in self.other_open)
            text += f" (other open issues labelled drift, left as they are: {others})"
        return text


def report_drift(tracker: IssueTracker, summary: str, run_url: str, label: str) -> IssueAction:
    """Create the drift issue, or update the one already open; never open a second one."""
    body = issue_body(summary, run_url)
    existing = sorted(tracker.open_issues(label), key=lambda issue: issue.number)
    if not existing:
        tracker.ensure_label(label, LABEL_COLOR, LABEL_DESCRIPTION)
        return IssueAction("created", tracker.create_issue(TITLE, body, [label]))
    target = existing[0]
    tracker.update_issue(target.number, body)
    tracker.comment(target.number, f"Drift detected again: {run_url}\n\n{_first_lines(summary)}")
    return IssueAction("updated", target, tuple(issue.number for issue in existing[1:]))


def issue_body(summary: str, run_url: str) -> str:
    footer = (
        f"\n\n---\nRun, with the full reports (`drift-report` artifact: drift.html, drift.json): "
        f"{run_url}\n\nThis issue is updated by every scheduled drift run that finds drift; "
        "close it once the model is retrained or the drift is understood."
    )
    if len(summary) + len(footer) > BODY_LIMIT:
        summary = summary[: BODY_LIMIT - len(footer) - 40] + "\n\n(summary cut, see the run)"
    return summary.rstrip() + footer


def _first_lines(summary: str, count: int = 4) -> str:
    """The heading and the verdict lines of a drift summary, for the comment."""
    return "\n".join(summary.strip().splitlines()[:count])
