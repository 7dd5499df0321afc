"""The release summary (Markdown, for the GitHub job summary and the terminal): version, previous
version, the smoke results and the decision of the latest run in the audit log."""

from __future__ import annotations

from collections.abc import Sequence

from greenlight.deploy.audit import AuditEntry
from greenlight.markdown import table

ICONS = {"ok": "pass", "failed": "**FAIL**", "skipped": "skipped", "info": ""}


def latest_run(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """The entries of the newest run (they share a run id)."""
    if not entries:
        return []
    run = entries[-1].run
    return [entry for entry in entries if entry.run == run]


def render_summary(entries: Sequence[AuditEntry]) -> str:
    run = latest_run(entries)
    if not run:
        return "## Deployment\n\nNo deployment has been recorded in the audit log.\n"
    decision = _decision(run)
    checks = [entry for entry in run if entry.step.split(":")[0] in {"ready", "smoke", "shadow"}]
    sections = [
        f"## Deployment: {decision}",
        _facts(run[0], decision),
        "### Smoke test",
        _rows(checks) if checks else "No smoke test ran.",
        "### Every step",
        _rows(run),
    ]
    return "\n\n".join(sections) + "\n"


def _facts(first: AuditEntry, decision: str) -> str:
    """What the run deployed, over what, where and by whom (from its first entry)."""
    previous = f"`{first.previous_version}`" if first.previous_version else "none"
    facts = [
        ["decision", decision],
        ["version", f"`{first.version}`"],
        ["previous version", previous],
        ["target", first.target],
        ["actor", first.actor],
        ["started", first.time],
    ]
    return table(["", ""], facts)


def _decision(run: Sequence[AuditEntry]) -> str:
    decisions = [entry for entry in run if entry.step == "decision"]
    if not decisions:
        return "unfinished (no decision recorded: the run was interrupted)"
    return str(decisions[-1].details.get("decision", decisions[-1].result))


def _rows(entries: Sequence[AuditEntry]) -> str:
    rows = [[entry.time, entry.step, ICONS[entry.result], entry.reason] for entry in entries]
    return table(["time", "step", "result", "detail"], rows)
