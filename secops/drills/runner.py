"""Run a scenario on a running range: each step's action from the attacker namespace, then wait until the
SOC pipeline raised every expected detection (from the attacker's address, after the step started) or the
step's deadline passed; then score it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from egovops.config import Settings
from secops.drills.actions import Action, ActionResult, Order, PortScanAction, SshGuessAction, Target
from secops.drills.pipeline import Pipeline, Sensor, aware
from secops.drills.range import RangeError
from secops.drills.respond import DrillResponder
from secops.drills.scenario import Scenario, Step
from secops.drills.scorecard import FalsePositive, Gap, Scorecard, StepOutcome, scorecard
from secops.incidents.schema import AlertRow
from secops.response.errors import ActionError, ResponseError

QUIET_S = 3.0
"""After the last step, how long late alerts still count (as false positives when nobody expected them)."""


class DrillError(RuntimeError):
    """The drill could not run (the range or an action failed); the message says what to do."""


class _Host(Protocol):
    @property
    def namespace(self) -> str: ...


class DrillRange(Protocol):
    """What a drill needs of the range (secops.drills.range.Range)."""

    @property
    def hosts(self) -> Mapping[str, _Host]: ...

    def address(self, host: str, family: int = 4) -> str: ...
    def run(
        self, host: str, argv: list[str], *, input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]: ...
    def sensors(self) -> Sequence[Sensor]: ...
    def credentials(self, host: str) -> tuple[str, str]: ...
    def web_url(self, family: int = 4) -> str: ...
    def load_audit_rules(self, rules: list[str]) -> None: ...


Listener = Callable[[str, Step, StepOutcome | None], None]
"""Told `started` / `acted` / `done` for each step (live progress)."""


def now() -> datetime:
    return datetime.now(UTC)


def target_of(rng: DrillRange, scenario: Scenario) -> Target:
    """The addresses of every host the scenario names, from the range itself."""
    names = {"web", "ssh"}
    for step in scenario.steps:
        if isinstance(step.action, PortScanAction):
            names.update(step.action.hosts)
        elif isinstance(step.action, SshGuessAction):
            names.add(step.action.host)
    try:
        addresses = {name: rng.address(name) for name in sorted(names)}
        user, password = rng.credentials("ssh")
    except KeyError as exc:
        raise DrillError(f"{scenario.name}: the range has no host {exc} (`egovops range status`)") from exc
    return Target(addresses=addresses, web_url=rng.web_url(), ssh_user=user, ssh_password=password)


def act(rng: DrillRange, action: Action, target: Target, timeout: float) -> ActionResult:
    """Run the action in the attacker namespace; its result comes back as JSON."""
    order = Order(action=action, target=target).model_dump_json()
    argv = [sys.executable, "-m", "secops.drills.actions", action.kind]
    try:
        done = rng.run("attacker", argv, input=order, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise DrillError(f"the {action.kind} action ran past its {timeout:.0f} s deadline") from exc
    try:
        return ActionResult.model_validate_json(done.stdout)
    except ValidationError as exc:
        raise DrillError(
            f"the {action.kind} action failed in the attacker namespace (exit {done.returncode}): "
            f"{done.stderr.strip()[-500:] or 'no output'}"
        ) from exc


def matches(row: AlertRow, rules: set[str]) -> bool:
    return row.rule_id in rules or (row.rule_name is not None and row.rule_name in rules)


def from_attacker(row: AlertRow, attacker: set[str]) -> bool:
    """An alert naming a source address must name the attacker's; one grouped by host may not name any."""
    source = row.entity.get("source.ip")
    return source is None or str(source) in attacker


def seen_at(row: AlertRow, since: datetime) -> datetime:
    """When the case store got the alert: recorded, or updated when a repeat was folded into it."""
    recorded = aware(row.recorded_at)
    return recorded if recorded >= since else aware(row.updated_at)


def rule_label(row: AlertRow) -> str:
    return row.rule_name or row.rule_id


class Drill:
    def __init__(
        self,
        scenario: Scenario,
        rng: DrillRange,
        settings: Settings,
        work: Path,
        listener: Listener | None = None,
    ) -> None:
        self.scenario = scenario
        self.rng = rng
        self.settings = settings
        self.work = work
        self.listener = listener or (lambda *_: None)
        self.attacker = {rng.address("attacker", 4), rng.address("attacker", 6)}

    def run(self) -> Scorecard:
        target = target_of(self.rng, self.scenario)
        for rule in self.scenario.audit_rules:
            try:
                self.rng.load_audit_rules([rule])
            except RangeError as exc:
                if "exists" not in str(exc):  # loaded by an earlier drill on this range: still in force
                    raise
        pipeline = Pipeline(self.work, self.settings, self.rng.sensors())
        responder = None
        if any(step.respond for step in self.scenario.steps):
            responder = DrillResponder(pipeline.cases, self.work, self.rng.hosts["router"].namespace)
        try:
            pipeline.start()
            started = now()
            outcomes = [
                (self.step(pipeline, step, target, responder), step.deadline_s)
                for step in self.scenario.steps
            ]
            time.sleep(QUIET_S)
            pipeline.check()
            noise = self.false_positives(pipeline.alerts(started))
        finally:
            try:
                if responder is not None:
                    responder.undo_all()
            finally:
                pipeline.stop()
        return scorecard(self.scenario.name, started, now(), outcomes, noise)

    def step(
        self, pipeline: Pipeline, step: Step, target: Target, responder: DrillResponder | None = None
    ) -> StepOutcome:
        outcome = StepOutcome(id=step.id, technique=step.technique, expected=list(step.expect),
                              attack=not self.scenario.benign)
        self.listener("started", step, None)
        began = now()
        result = act(self.rng, step.action, target, step.deadline_s)
        outcome.action = result.model_dump()
        outcome.blocked = step.blocking_expected and (result.blocked + result.refused) > 0
        self.listener("acted", step, outcome)
        wanted = set(step.expect)
        end = began.timestamp() + step.deadline_s
        incidents: set[int] = set()
        while True:
            pipeline.check()
            for row in pipeline.alerts(began):
                label = next((r for r in wanted if matches(row, {r})), None)
                if label and label not in outcome.detections and from_attacker(row, self.attacker):
                    outcome.detections[label] = round((seen_at(row, began) - began).total_seconds(), 3)
                    if row.incident_id is not None:
                        incidents.add(row.incident_id)
            # A step expecting nothing is watched to its deadline: whatever fires in it is noise.
            if (wanted and wanted <= outcome.detections.keys()) or time.time() >= end:
                break
            time.sleep(0.25)
        outcome.gaps = self.gaps(pipeline, step, began, outcome)
        if step.respond and responder is not None and wanted <= outcome.detections.keys() and incidents:
            self.respond(responder, step.respond, min(incidents), began, outcome)
        self.listener("done", step, outcome)
        return outcome

    def respond(
        self, responder: DrillResponder, kind: str, incident: int, began: datetime, outcome: StepOutcome
    ) -> None:
        """Block the attacker for the detected step's incident; the failure is part of the outcome."""
        address = next(a for a in sorted(self.attacker) if ":" not in a)
        try:
            responder.block(kind, incident, address)
        except (ResponseError, ActionError) as exc:
            outcome.response = f"{kind} on incident {incident} failed: {exc}"
            return
        outcome.time_to_respond_s = round((now() - began).total_seconds(), 3)
        outcome.response = f"{kind}: {address} dropped on the router (incident {incident})"

    def gaps(self, pipeline: Pipeline, step: Step, began: datetime, outcome: StepOutcome) -> list[Gap]:
        """For each missing detection: what was stored in the step's window and what fired instead."""
        missing = [rule for rule in step.expect if rule not in outcome.detections]
        if self.scenario.benign or not (missing or not step.expect):
            return []
        seen = pipeline.events(began, now())
        fired = sorted({rule_label(row) for row in pipeline.alerts(began)})
        if not step.expect:
            return [Gap(rule=None, events=seen, fired=fired,
                        note=f"no built-in rule covers {step.technique}: the step expects none")]
        return [Gap(rule=rule, events=seen, fired=fired) for rule in missing]

    def false_positives(self, rows: list[AlertRow]) -> list[FalsePositive]:
        """Alerts nobody expected (any alert in a benign scenario); informational ones are records that
        ask nothing of an analyst (an administrator's login), not alarms."""
        allowed = self.scenario.expected() | set(self.scenario.incidental)
        return [
            FalsePositive(
                rule=rule_label(row), title=row.title, severity=row.severity, entity=dict(row.entity)
            )
            for row in rows
            if row.severity != "informational" and (self.scenario.benign or not matches(row, allowed))
        ]
