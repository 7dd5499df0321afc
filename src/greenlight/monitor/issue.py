"""One open GitHub issue per kind of finding (drift, degraded live performance), never two: find
the open issues carrying the kind's label; none -> create one (with the label); otherwise update
the oldest one's body to the latest report and comment, so watchers are notified. The logic talks
to GitHub through the small `IssueTracker` interface, so it is tested against a fake;
`greenlight.github.GitHub` is the real REST client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from greenlight.github import Issue

BODY_LIMIT = 60_000  # GitHub refuses bodies over 65,536 characters


@dataclass(frozen=True)
class IssueKind:
    """What one issue is about: its default label, title, label colour and wording."""

    label: str
    title: str
    color: str
    description: str  # the label's, on GitHub
    again: str  # the comment's first words when a later run finds it again
    reports: str  # the artifact and files of the run that hold the full reports
    close_when: str


DRIFT = IssueKind(
    label="drift",
    title="Drift detected in production traffic",
    color="d93f0b",
    description="Production traffic drifted from the training data (greenlight drift)",
    again="Drift detected again",
    reports="`drift-report` artifact: drift.html, drift.json",
    close_when="the model is retrained or the drift is understood",
)
PERFORMANCE = IssueKind(
    label="performance",
    title="Live model performance degraded",
    color="b60205",
    description="Delayed labels show the live model below its test figures "
    "(greenlight monitor performance)",
    again="Degradation measured again",
    reports="`performance-report` artifact: performance.html, performance.json",
    close_when="the model is retrained or the drop is understood",
)


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
    label: str
    # further open issues with the label (made by hand): left alone
    other_open: tuple[int, ...] = ()

    def describe(self) -> str:
        text = f"{self.action} {self.label} issue #{self.issue.number}: {self.issue.url}"
        if self.other_open:
            others = ", ".join(f"#{number}" for number in self.other_open)
            text += f" (other open issues labelled {self.label}, left as they are: {others})"
        return text


def report(
    tracker: IssueTracker, kind: IssueKind, summary: str, run_url: str, label: str | None = None
) -> IssueAction:
    """Create the kind's issue, or update the one already open; never open a second one."""
    label = label or kind.label
    body = issue_body(summary, run_url, kind)
    existing = sorted(tracker.open_issues(label), key=lambda issue: issue.number)
    if not existing:
        tracker.ensure_label(label, kind.color, kind.description)
        return IssueAction("created", tracker.create_issue(kind.title, body, [label]), label)
    target = existing[0]
    tracker.update_issue(target.number, body)
    tracker.comment(target.number, f"{kind.again}: {run_url}\n\n{_first_lines(summary)}")
    return IssueAction("updated", target, label, tuple(issue.number for issue in existing[1:]))


def issue_body(summary: str, run_url: str, kind: IssueKind = DRIFT) -> str:
    footer = (
        f"\n\n---\nRun, with the full reports ({kind.reports}): {run_url}\n\n"
        f"This issue is updated by every scheduled run that finds it again; close it once "
        f"{kind.close_when}."
    )
    if len(summary) + len(footer) > BODY_LIMIT:
        summary = summary[: BODY_LIMIT - len(footer) - 40] + "\n\n(summary cut, see the run)"
    return summary.rstrip() + footer


def _first_lines(summary: str, count: int = 4) -> str:
    """The heading and the verdict lines of a summary, for the comment."""
    return "\n".join(summary.strip().splitlines()[:count])
