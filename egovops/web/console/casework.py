"""What an analyst changes from the console: assignment, notes, lifecycle moves and response actions.

The lifecycle functions record who and when in the case store; each change made here also goes to the
audit trail with the state before and after (`Recorder`, which the web layer fills in with the user, role
and address), so the auditor's page shows it. Response actions write their own audit records
(`Responder`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from functools import cached_property
from typing import Any, Protocol

from egovops.audit import AuditTrail
from secops.incidents.cases import CaseStore
from secops.incidents.lifecycle import add_note, assign, transition
from secops.response.action import Plan
from secops.response.schema import ActionRow
from secops.response.settings import ResponseSettings
from secops.response.workflow import Responder
from secops.store import Store


class Recorder(Protocol):
    """Appends one change to the audit trail on behalf of the person acting."""

    def __call__(self, action: str, target: str, *, before: Any = None, after: Any = None,
                 detail: dict[str, Any] | None = None) -> object: ...


class Casework:
    def __init__(
        self,
        cases: CaseStore,
        trail: AuditTrail,
        events: Callable[[], AbstractContextManager[Store]],
        response: ResponseSettings,
    ) -> None:
        self.cases = cases
        self.trail = trail
        self.events = events
        self.response = response

    @cached_property
    def responder(self) -> Responder:
        """Made on first use: it loads the action kinds and creates their table."""
        return Responder(self.cases, self.trail, self.response)

    def assign(self, number: int, assignee: str, actor: str, record: Recorder) -> None:
        before = self.cases.incident(number).assignee
        after = assign(self.cases, number, assignee, actor).assignee
        record("incident.assign", f"incident/{number}", before=before, after=after)

    def note(self, number: int, text: str, actor: str, record: Recorder) -> None:
        add_note(self.cases, number, text, actor)
        record("incident.note", f"incident/{number}", detail={"text": text.strip()})

    def transition(
        self, number: int, target: str, actor: str, record: Recorder, *, reason: str | None,
        recipients: Sequence[str],
    ) -> None:
        before = self.cases.incident(number).state
        with self.events() as store:
            after = transition(
                self.cases, number, target, actor, reason=reason, recipients=recipients, events=store
            ).state
        record(
            "incident.transition", f"incident/{number}", before=before, after=after,
            detail={"reason": reason, "recipients": list(recipients)},
        )

    def preview(self, kind: str, number: int) -> Plan:
        """The dry run: exactly what the action would change; nothing changes, nothing is recorded."""
        return self.responder.preview(kind, number)

    def request(self, kind: str, number: int, actor: str) -> ActionRow:
        return self.responder.request(kind, number, actor)

    def approve(self, action_id: int, actor: str) -> ActionRow:
        return self.responder.approve(action_id, actor)

    def undo(self, action_id: int, actor: str) -> ActionRow:
        return self.responder.undo(action_id, actor)
