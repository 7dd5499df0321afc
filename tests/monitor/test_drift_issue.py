"""The one-issue rule (drift here; the performance issue in test_performance_issue.py) against a
fake tracker: none open -> create; open -> update, never a second."""

from __future__ import annotations

from dataclasses import dataclass, field

from greenlight.monitor.issue import BODY_LIMIT, DRIFT, Issue, issue_body, report

SUMMARY = "## Drift detected in production traffic (model `v1`)\n\n**3 of 12 features drifted**\n"
RUN = "https://github.com/acme/greenlight/actions/runs/42"


@dataclass
class FakeTracker:
    """Keeps issues in memory, like GitHub does, and records every call."""

    issues: dict[int, dict] = field(default_factory=dict)
    labels: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    def open_issues(self, label: str) -> list[Issue]:
        self.calls.append("list")
        return [
            Issue(number, issue["url"])
            for number, issue in self.issues.items()
            if issue["open"] and label in issue["labels"]
        ]

    def ensure_label(self, name: str, color: str, description: str) -> None:
        self.calls.append("label")
        self.labels.add(name)

    def create_issue(self, title: str, body: str, labels: list[str]) -> Issue:
        self.calls.append("create")
        number = max(self.issues, default=0) + 1
        url = f"https://github.com/acme/greenlight/issues/{number}"
        self.issues[number] = {"title": title, "body": body, "labels": labels, "open": True}
        self.issues[number] |= {"url": url, "comments": []}
        return Issue(number, url)

    def update_issue(self, number: int, body: str) -> None:
        self.calls.append("update")
        self.issues[number]["body"] = body

    def comment(self, number: int, body: str) -> None:
        self.calls.append("comment")
        self.issues[number]["comments"].append(body)

    def open_drift_issues(self) -> list[int]:
        return [
            n for n, issue in self.issues.items() if issue["open"] and "drift" in issue["labels"]
        ]


def test_with_no_open_drift_issue_one_is_created_with_the_label():
    tracker = FakeTracker()
    action = report(tracker, DRIFT, SUMMARY, RUN, "drift")
    assert action.action == "created" and action.issue.number == 1
    assert tracker.labels == {"drift"}
    created = tracker.issues[1]
    assert created["title"] == DRIFT.title and created["labels"] == ["drift"]
    assert created["body"].startswith(SUMMARY.rstrip()) and RUN in created["body"]


def test_repeated_runs_update_the_open_issue_and_never_open_a_second():
    tracker = FakeTracker()
    report(tracker, DRIFT, SUMMARY, RUN, "drift")
    later = SUMMARY.replace("3 of 12", "5 of 12")
    second_run = RUN.replace("42", "43")
    action = report(tracker, DRIFT, later, second_run, "drift")
    action_again = report(tracker, DRIFT, later, RUN.replace("42", "44"), "drift")
    assert tracker.open_drift_issues() == [1]
    assert action.action == action_again.action == "updated" and action.issue.number == 1
    issue = tracker.issues[1]
    assert "5 of 12" in issue["body"] and "runs/44" in issue["body"]
    assert len(issue["comments"]) == 2 and "runs/43" in issue["comments"][0]
    assert tracker.calls.count("create") == 1


def test_a_closed_drift_issue_is_not_reused():
    tracker = FakeTracker()
    report(tracker, DRIFT, SUMMARY, RUN, "drift")
    tracker.issues[1]["open"] = False
    action = report(tracker, DRIFT, SUMMARY, RUN, "drift")
    assert action.action == "created" and action.issue.number == 2


def test_other_labels_do_not_count_and_with_several_open_the_oldest_is_updated():
    tracker = FakeTracker()
    tracker.create_issue("unrelated bug", "body", ["bug"])
    tracker.create_issue("drift, by hand", "body", ["drift"])
    tracker.create_issue("drift, by hand again", "body", ["drift"])
    tracker.calls.clear()
    action = report(tracker, DRIFT, SUMMARY, RUN, "drift")
    assert action.action == "updated" and action.issue.number == 2
    assert action.other_open == (3,)
    assert "create" not in tracker.calls
    assert "#3" in action.describe()
    assert tracker.issues[1]["body"] == "body" and tracker.issues[3]["body"] == "body"


def test_an_oversized_summary_is_cut_to_fit_github_limits():
    body = issue_body("x" * (BODY_LIMIT * 2), RUN)
    assert len(body) <= BODY_LIMIT and RUN in body and "summary cut" in body
