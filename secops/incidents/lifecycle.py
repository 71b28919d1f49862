"""Moving an incident along 发现 → 通报 → 处置 → 溯源 → 打击: assignment, transitions, notes.

Every change is recorded with who and when. Leaving 发现 or being assigned stops the acknowledge clock;
reaching 处置 stops the contain clock. 通报 renders a notification per recipient; 溯源 needs the evidence
`trace` collects first.
"""

from __future__ import annotations

from collections.abc import Sequence

from secops.events import Doc
from secops.incidents.cases import CaseStore
from secops.incidents.contributing import affected_assets, contributing_events
from secops.incidents.errors import CaseError
from secops.incidents.notify import RECIPIENT_EXAMPLES, build_notification
from secops.incidents.schema import IncidentRow, Note, Transition
from secops.incidents.states import TERMINAL, State, check_transition, parse_state
from secops.store import Store

ASSET_EVENTS = 500
"""Contributing events read to list the affected assets of a 通报 (the first ones, in alert order)."""


def assign(cases: CaseStore, number: int, assignee: str, actor: str) -> IncidentRow:
    if not assignee.strip():
        raise CaseError("name the person to assign the incident to")
    now = cases.clock()
    with cases.writing() as session:
        incident = cases.get_incident(session, number)
        state = State(incident.state)
        if state in TERMINAL:
            raise CaseError(f"incident {number} is closed ({state.zh}); it cannot be assigned")
        incident.assignee = assignee.strip()
        incident.acknowledged_at = incident.acknowledged_at or now
        incident.updated_at = now
        session.add(Note(incident_id=number, kind="assign", actor=actor, at=now, text=incident.assignee))
    return cases.incident(number)


def add_note(cases: CaseStore, number: int, text: str, actor: str) -> IncidentRow:
    if not text.strip():
        raise CaseError("a note needs some text")
    now = cases.clock()
    with cases.writing() as session:
        incident = cases.get_incident(session, number)
        incident.updated_at = now
        session.add(Note(incident_id=number, kind="note", actor=actor, at=now, text=text.strip()))
    return cases.incident(number)


def transition(
    cases: CaseStore,
    number: int,
    target: State | str,
    actor: str,
    *,
    reason: str | None = None,
    recipients: Sequence[str] = (),
    events: Store | None = None,
) -> IncidentRow:
    """Move the incident to `target` (English name or Chinese label), or refuse with the reason why.

    A move to 通报 needs at least one recipient and stores one notification each; `events`, when given,
    lets the notification list the assets the contributing events name.
    """
    goal = target if isinstance(target, State) else parse_state(target)
    recipients = [r.strip() for r in recipients if r.strip()]
    if goal is State.NOTIFIED and not recipients:
        raise CaseError(f"通报 (notified) needs at least one --recipient: {RECIPIENT_EXAMPLES}")
    if goal is not State.NOTIFIED and recipients:
        raise CaseError("--recipient belongs to the move to notified (通报)")
    docs: list[Doc] = []
    if goal is State.NOTIFIED and events is not None:
        docs = contributing_events(events, cases.incident(number).alerts, limit=ASSET_EVENTS).events
    now = cases.clock()
    with cases.writing() as session:
        incident = cases.get_incident(session, number, full=True)
        current = State(incident.state)
        check_transition(current, goal, reason)
        if goal is State.TRACED and not incident.evidence:
            raise CaseError(
                f"溯源 (traced) needs evidence first: run `egovops incidents trace {number}` "
                "(with --pcap FILE for the packets of network flows)"
            )
        incident.transitions.append(
            Transition(from_state=current.value, to_state=goal.value, actor=actor, at=now,
                       reason=reason.strip() if reason else None)
        )
        incident.state = goal.value
        incident.updated_at = now
        incident.acknowledged_at = incident.acknowledged_at or now
        if goal is State.CONTAINED:
            incident.contained_at = now
        if goal in TERMINAL:
            incident.closed_at = now
        if goal is State.NOTIFIED:
            assets = affected_assets(incident, docs)
            for recipient in recipients:
                incident.notifications.append(
                    build_notification(incident, recipient, actor, now, cases.settings, assets)
                )
    return cases.incident(number)
