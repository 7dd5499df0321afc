"""How an A/B split ends, on any target that can split: promote (all traffic to the candidate,
the old color stopped) or roll back (all traffic to the live color, the candidate stopped, its
color keeping the release it held before). split.py decides by the per-variant figures (local,
docker); on kubernetes, whose pods keep their prediction and outcome logs to themselves, a person
gives the verdict (`greenlight deploy decide --target kubernetes --verdict promote|rollback`),
and `ManualDecision` records it in the audit log like an automatic one."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Literal, Protocol, TextIO

from greenlight.deploy.audit import AuditLog
from greenlight.deploy.controller import DeployError
from greenlight.deploy.decide import Verdict
from greenlight.deploy.settings import DeploySettings
from greenlight.deploy.targets.base import Color, Release, TargetState
from greenlight.deploy.targets.state_dir import SplitModel

Ending = Literal["promote", "rollback"]


class Ends(Protocol):
    """What ending a split needs of a target."""

    name: str

    def state(self) -> TargetState: ...

    def switch(self, color: Color) -> None: ...

    def stop(self, color: Color, keep: Release | None) -> None: ...

    def current_split(self) -> SplitModel | None: ...


def end_split(
    target: Ends, action: Ending, split: SplitModel, state: TargetState, audit: AuditLog
) -> None:
    """Promote the candidate or roll it back; the decision goes in `audit`."""
    live, candidate = state.live, split.candidate
    if live is None:
        return
    if action == "promote":
        target.switch(candidate)
        target.stop(live, state.release(live))
        message = f"{audit.version} promoted: all traffic on {candidate}, {live} stopped"
        audit.record("decision", "ok", message, decision="promoted")
        return
    target.switch(live)
    target.stop(candidate, split.replaced.release() if split.replaced else None)
    message = f"{audit.version} rolled back: all traffic on {live}, {candidate} stopped"
    audit.record("decision", "failed", message, decision="rolled_back")


@dataclass
class ManualDecision:
    """A person's verdict on the split in progress, audited, then carried out."""

    target: Ends
    settings: DeploySettings
    action: Ending
    echo: TextIO | None = field(default_factory=lambda: sys.stdout)

    def run(self) -> Verdict:
        """Record and act; DeployError when no split is in progress."""
        state, split = self.target.state(), self.target.current_split()
        if split is None or state.live is None:
            raise DeployError("no split in progress: start one with `greenlight deploy --split N`")
        verdict = Verdict(self.action, "manual", f"{self.action} by a person's verdict", {})
        audit = self._audit(state, split)
        result = "ok" if self.action == "promote" else "failed"
        audit.record("decide", result, verdict.reason, action=self.action, rule="manual")
        end_split(self.target, self.action, split, state, audit)
        return verdict

    def _audit(self, state: TargetState, split: SplitModel) -> AuditLog:
        candidate, live = state.release(split.candidate), state.release(state.live)
        return AuditLog(
            path=self.settings.audit_log,
            target=self.target.name,
            version=candidate.version if candidate else None,
            previous_version=live.version if live else None,
            echo=self.echo,
        )
