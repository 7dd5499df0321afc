"""The blue/green state machine. Start the new version on the idle color, wait for readiness,
smoke-test it (and optionally shadow live traffic), switch, watch, then retire the old color, or
switch back on the first breach. Each decision is appended to the audit log before the next step.

The live color is never touched until the new one has passed every gate, and the old color stays
up through the watch window, so switching back is one router operation."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, Protocol, TextIO, runtime_checkable

import httpx

from greenlight.deploy.audit import AuditLog
from greenlight.deploy.readiness import Probes, Refusal, wait_ready
from greenlight.deploy.settings import DeploySettings
from greenlight.deploy.shadow import shadow_compare
from greenlight.deploy.smoke import Check, Clock, KnownAnswer, Sleep, smoke_test
from greenlight.deploy.targets.base import Color, Release, Target, TargetState
from greenlight.deploy.watch import watch
from greenlight.errors import GreenlightError
from greenlight.known_answers import DEFAULT_TOLERANCE

Decision = Literal["deployed", "rejected", "rolled_back", "splitting"]


@runtime_checkable
class SplitTarget(Protocol):
    """A target that can run an A/B split (local and docker: targets/proxied.py; kubernetes)."""

    def split(self, candidate: Color, percent: int, replaced: Release | None) -> None:
        """`candidate` takes `percent` of the traffic beside the live color; `replaced` is the
        release the candidate's color held before, kept for a rollback."""


class DeployError(GreenlightError):
    """A deployment cannot even be attempted (nothing to roll back to, a target misconfigured)."""


@dataclass(frozen=True)
class Candidate:
    release: Release
    answers: list[KnownAnswer] | None  # None: this version's recorded answers are not at hand


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    version: str
    previous_version: str | None
    color: Color
    reason: str

    @property
    def ok(self) -> bool:
        return self.decision in ("deployed", "splitting")


@dataclass
class Controller:
    target: Target
    settings: DeploySettings
    echo: TextIO | None = field(default_factory=lambda: sys.stdout)
    clock: Clock = time.monotonic
    sleep: Sleep = time.sleep
    # the smoke test judges known answers with the service's own serving.known_answer_tolerance
    known_answer_tolerance: float = DEFAULT_TOLERANCE

    def deploy(
        self, candidate: Candidate, action: str = "deploy", split: int | None = None
    ) -> Outcome:
        """Roll `candidate` out on the idle color; the live color keeps serving unless it passes.
        With `split` (a percentage) the candidate then takes that share beside the live color,
        until `greenlight deploy decide` promotes it or rolls it back."""
        state = self.target.state()
        self._refuse_split(state, split)
        audit = self._audit(candidate.release, state)
        live = f"{state.live} runs {audit.previous_version}" if state.live else "nothing is live"
        share = f", then {split}% of the traffic beside it" if split else ""
        audit.record(
            "plan", "info", f"{action} {candidate.release.version} on {state.idle}{share}; {live}"
        )
        return Rollout(self, audit, candidate, state, split=split).run()

    def _refuse_split(self, state: TargetState, split: int | None) -> None:
        """No deployment while a split runs; a split needs a splitting target and a live color."""
        if state.split is not None:
            running = f"{state.split.candidate} takes {state.split.percent}% in a split"
            raise DeployError(f"{running}: end it first with `greenlight deploy decide`")
        if split is None:
            return
        if not isinstance(self.target, SplitTarget):
            refused = f"{self.target.name} cannot split"
            raise DeployError(f"--split is for --target local|docker|kubernetes; {refused}")
        if state.live is None or not state.slots[state.live].running:
            raise DeployError("--split needs a running live color: deploy without --split first")

    def rollback(self, answers: Callable[[Release], list[KnownAnswer] | None]) -> Outcome:
        """Bring back the release the idle color holds (the one live before the current one)."""
        state = self.target.state()
        release = state.release(state.idle)
        if state.live is None or release is None:
            raise DeployError(f"{self.target.name}: no previous release to roll back to")
        return self.deploy(Candidate(release, answers(release)), action="rollback to")

    def _audit(self, release: Release, state: TargetState) -> AuditLog:
        previous = state.release(state.live)
        return AuditLog(
            path=self.settings.audit_log,
            target=self.target.name,
            version=release.version,
            previous_version=previous.version if previous else None,
            echo=self.echo,
        )


@dataclass
class Rollout:
    """One pass of the state machine; each method is one step and records its decision."""

    controller: Controller
    audit: AuditLog
    candidate: Candidate
    state: TargetState
    switched: bool = False
    split: int | None = None  # the candidate's share of the traffic; None: a full switch

    @property
    def target(self) -> Target:
        return self.controller.target

    @property
    def settings(self) -> DeploySettings:
        return self.controller.settings

    @property
    def idle(self) -> Color:
        return self.state.idle

    @property
    def version(self) -> str:
        return self.candidate.release.version

    @property
    def fallback(self) -> Color | None:
        """The color to switch back to on a breach: the live one, if it is still running."""
        live = self.state.live
        return live if live is not None and self.state.slots[live].running else None

    def run(self) -> Outcome:
        """The steps in order; anything unexpected (Ctrl-C, a router that went away) is recorded
        with what it leaves behind, then raised."""
        try:
            return self._steps()
        except BaseException as error:
            self._abort(error)
            raise

    def _steps(self) -> Outcome:
        self.start()
        rejection = self.ready() or self.smoke() or self.shadow()
        if rejection:
            return self.reject(rejection)
        if self.split is not None:
            return self.begin_split(self.split)
        self.switch()
        self.switched = True
        breach = self.watch()
        if breach and self.fallback:
            return self.roll_back(self.fallback, breach)
        return self.retire()

    def _abort(self, error: BaseException) -> None:
        happened = f"{type(error).__name__}: {error}".rstrip(": ")
        if self.switched:
            left = f"traffic is on {self.idle}; both colors may run (`greenlight deploy status`)"
        else:
            self.target.stop(self.idle, self.state.release(self.idle))
            left = f"stopped {self.idle}; the live color is untouched"
        self.audit.record("abort", "failed", f"{happened}; {left}")

    def start(self) -> None:
        if self.state.slots[self.idle].running:
            self.target.stop(self.idle, self.state.release(self.idle))
            self.audit.record("cleanup", "info", f"stopped {self.idle}, left running earlier")
        self.target.start(self.idle, self.candidate.release)
        self.audit.record("start", "ok", f"starting {self.version} on {self.idle}")

    def ready(self) -> str | None:
        target, idle = self.target, self.idle
        probes = Probes(partial(target.available, idle), partial(target.failure, idle))
        clock, sleep = self._timing()
        with target.client(idle) as client:
            refusal = self._refusal(client)
            deadline = self.settings.readiness_deadline_s
            check = wait_ready(client, deadline, probes, refusal, clock=clock, sleep=sleep)
        return self._judge("ready", [check])

    def _refusal(self, client: httpx.Client) -> Refusal | None:
        answers = self.candidate.answers
        if not answers:
            return None  # no record known to be valid for this model: wait for the deadline
        grace = self.settings.refusal_grace_s
        return Refusal(client, answers[0].record, grace, self.controller.clock)

    def smoke(self) -> str | None:
        with self.target.client(self.idle) as client:
            tolerance = self.controller.known_answer_tolerance
            checks = smoke_test(
                client, self.version, self.candidate.answers, self.settings.smoke, tolerance
            )
        return self._judge("smoke", checks)

    def shadow(self) -> str | None:
        live = self.fallback
        if self.settings.shadow.seconds <= 0 or live is None:
            return None
        check = shadow_compare(self.target, live, self.idle, self.settings.shadow)
        return self._judge("shadow", [check])

    def _judge(self, step: str, checks: list[Check]) -> str | None:
        for check in checks:
            name = step if check.name == step else f"{step}:{check.name}"
            result = "ok" if check.passed else "failed"
            self.audit.record(name, result, check.detail, **check.values)
        failed = [check for check in checks if not check.passed]
        return "; ".join(f"{check.name}: {check.detail}" for check in failed) or None

    def reject(self, reason: str) -> Outcome:
        self.target.stop(self.idle, self.state.release(self.idle))
        kept = f"{self.state.live} keeps serving" if self.state.live else "nothing serves"
        message = f"{self.version} was not switched to ({reason}); {kept}"
        self.audit.record("decision", "failed", message, decision="rejected")
        return self._outcome("rejected", message)

    def begin_split(self, percent: int) -> Outcome:
        target = self.target
        if not isinstance(target, SplitTarget):  # refused before the start; for the type checker
            raise DeployError(f"{self.target.name} cannot split traffic")
        self.switched = True  # traffic reaches the candidate from here on
        target.split(self.idle, percent, self.state.release(self.idle))
        message = f"{self.version} on {self.idle} takes {percent}% beside {self.state.live}"
        self.audit.record("split", "ok", message, candidate=self.idle, percent=percent)
        self.audit.record(
            "decision", "ok", f"{message}; `greenlight deploy decide` ends it", decision="splitting"
        )
        return self._outcome("splitting", message)

    def switch(self) -> None:
        self.target.switch(self.idle)
        self.audit.record("switch", "ok", f"traffic now goes to {self.idle} ({self.version})")

    def watch(self) -> str | None:
        watch_settings = self.settings.watch
        if self.fallback is None or watch_settings.window_s <= 0:
            reason = "no running color to fall back to" if self.fallback is None else "window 0"
            self.audit.record("watch", "skipped", reason)
            return None
        answers = self.candidate.answers
        record = answers[0].record if answers else None
        clock, sleep = self._timing()
        report = watch(self.target, self.idle, record, watch_settings, clock=clock, sleep=sleep)
        counts = f"{report.errors} errors in {report.requests} requests over {report.seconds:.1f}s"
        result = "failed" if report.breach else "ok"
        self.audit.record("watch", result, report.breach or counts, requests=report.requests)
        return report.breach

    def _timing(self) -> tuple[Clock, Sleep]:
        return self.controller.clock, self.controller.sleep

    def roll_back(self, live: Color, breach: str) -> Outcome:
        self.target.switch(live)
        message = f"traffic back on {live} ({self.audit.previous_version})"
        self.audit.record("rollback", "ok", message)
        self.target.stop(self.idle, self.state.release(self.idle))
        message = f"{self.version} rolled back after the switch: {breach}"
        self.audit.record("decision", "failed", message, decision="rolled_back")
        return self._outcome("rolled_back", message)

    def retire(self) -> Outcome:
        live = self.state.live
        if live is not None:
            self.target.stop(live, self.state.release(live))
            self.audit.record("retire", "ok", f"stopped {live} ({self.audit.previous_version})")
        message = f"{self.version} is live on {self.idle}"
        self.audit.record("decision", "ok", message, decision="deployed")
        return self._outcome("deployed", message)

    def _outcome(self, decision: Decision, reason: str) -> Outcome:
        return Outcome(decision, self.version, self.audit.previous_version, self.idle, reason)
