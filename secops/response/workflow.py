"""Requesting, approving, executing and undoing response actions for incidents, with the audit trail.

A low-impact action runs when requested; a high-impact one waits until someone other than the requester
approves it, and then runs. Every request, approval (or refused approval), execution and undo is written
to the audit trail with who, what, the incident, the parameters and the result. Executing an action
adds a note to its incident and moves a 通报 (notified) incident on to 处置 (contained).

The external change and the database cannot share a transaction: an action is marked `running` before
its playbook starts, so two people cannot run it twice, and its outcome is written when it ends. If the
process running it dies first (kill -9, a reboot), the next look at the actions on that host finds the
process gone and says so: an interrupted execution becomes `failed`, an interrupted undo goes back to
`executed`, each with the reason, so it can be checked and requested or undone again.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from egovops.audit import AuditTrail
from secops.events import format_ts
from secops.incidents.cases import CaseStore
from secops.incidents.lifecycle import add_note, transition
from secops.incidents.states import State, next_states
from secops.response.action import ActionKind, Impact, Plan, Target
from secops.response.errors import ActionError, ResponseError
from secops.response.registry import get_kind, load_kinds
from secops.response.schema import ACTIVE, ActionRow, ActionState, create_tables
from secops.response.settings import ResponseSettings


def action_view(row: ActionRow) -> dict[str, Any]:
    def when(moment: Any) -> str | None:
        return format_ts(moment) if moment is not None else None

    return {
        "id": row.id,
        "incident": row.incident_id,
        "kind": row.kind,
        "impact": row.impact,
        "state": row.state,
        "params": row.params,
        "requested_by": row.requested_by,
        "requested_at": when(row.requested_at),
        "approved_by": row.approved_by,
        "approved_at": when(row.approved_at),
        "executed_at": when(row.executed_at),
        "undone_by": row.undone_by,
        "undone_at": when(row.undone_at),
        "outputs": row.outputs,
        "error": row.error,
        "runner": row.runner,
    }


def _runner() -> str:
    """This process, as recorded on the actions it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(runner: str) -> bool:
    """Whether `host:pid` may still be running: unknown for another host (or a reused pid), so yes."""
    host, _, pid = runner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Responder:
    cases: CaseStore
    audit: AuditTrail
    settings: ResponseSettings

    def __post_init__(self) -> None:
        load_kinds(self.settings.modules, self.settings.kinds)
        with self.cases.writing() as session:
            create_tables(session.connection())

    # -- reading ---------------------------------------------------------------------------------------

    def action(self, action_id: int) -> ActionRow:
        self._reap()
        with self.cases.reading() as session:
            row = session.get(ActionRow, action_id)
        if row is None:
            raise ResponseError(f"no response action {action_id}; `egovops respond list` shows them")
        return row

    def actions(self, incident: int | None = None) -> list[ActionRow]:
        query = select(ActionRow).order_by(ActionRow.id)
        if incident is not None:
            query = query.where(ActionRow.incident_id == incident)
        self._reap()
        with self.cases.reading() as session:
            return list(session.scalars(query))

    def _active(self, kind: str) -> list[ActionRow]:
        query = select(ActionRow).where(ActionRow.kind == kind, ActionRow.state.in_(ACTIVE))
        self._reap()
        with self.cases.reading() as session:
            return list(session.scalars(query))

    def preview(self, kind_name: str, incident: int, address: str | None = None) -> Plan:
        """The dry run: exactly what executing would change; nothing is changed or recorded."""
        kind, params = self._resolve(kind_name, incident, address)
        return kind.plan(params)

    # -- acting ----------------------------------------------------------------------------------------

    def request(
        self, kind_name: str, incident: int, actor: str, *, approve: bool = False, address: str | None = None
    ) -> ActionRow:
        """Request an action. Low impact: it runs now. High impact: it waits for approval; `approve`
        approves the identical request someone else made, and is refused for one's own."""
        kind, params = self._resolve(kind_name, incident, address)
        stored = params.model_dump(mode="json")
        same = next((row for row in self._active(kind.name) if row.params == stored), None)
        if approve and kind.impact is Impact.HIGH:
            if same is None or same.state != ActionState.PENDING:
                self._refuse_approval(actor, incident, kind.name, stored, None)
                raise ResponseError(
                    f"{actor} cannot approve a {kind.name} that {actor} requests: a high-impact action needs "
                    "a second person. Request it without --approve, then another person runs "
                    "`egovops respond approve ID --as NAME`"
                )
            return self.approve(same.id, actor)
        if same is not None:
            raise ResponseError(
                f"the same {kind.name} is already {same.state} as action {same.id} (incident "
                f"{same.incident_id}, requested by {same.requested_by}); "
                + (
                    f"approve it with `egovops respond approve {same.id} --as NAME`"
                    if same.state == ActionState.PENDING
                    else f"undo it with `egovops respond undo {same.id}`"
                )
            )
        now = self.cases.clock()
        with self.cases.writing() as session:
            row = ActionRow(
                incident_id=incident,
                kind=kind.name,
                impact=kind.impact.value,
                params=stored,
                state=ActionState.PENDING.value,
                requested_by=actor,
                requested_at=now,
                outputs={},
            )
            session.add(row)
            session.flush()
        pending = kind.impact is Impact.HIGH
        self._record(actor, "response.request", row, "pending approval" if pending else "ok")
        if pending:
            return row
        return self._execute(kind, self._claim(row.id, ActionState.PENDING), actor)

    def approve(self, action_id: int, actor: str) -> ActionRow:
        """Approve a pending high-impact action as someone other than its requester, and run it."""
        row = self.action(action_id)
        if row.state != ActionState.PENDING:
            raise ResponseError(f"action {action_id} is {row.state}; only pending actions are approved")
        if actor == row.requested_by:
            self._refuse_approval(actor, row.incident_id, row.kind, row.params, row.id)
            raise ResponseError(
                f"{actor} requested action {action_id} and cannot approve it too: a high-impact action needs "
                f"a second person (`egovops respond approve {action_id} --as NAME`)"
            )
        kind = get_kind(row.kind)
        row = self._claim(action_id, ActionState.PENDING, approved_by=actor)
        self._record(actor, "response.approve", row, "approved")
        return self._execute(kind, row, actor)

    def undo(self, action_id: int, actor: str) -> ActionRow:
        """Reverse an executed action with the kind's undo plan."""
        row = self.action(action_id)
        if row.state == ActionState.UNDONE:
            raise ResponseError(
                f"action {action_id} was already undone by {row.undone_by} at {format_ts(row.undone_at)}"
                if row.undone_at
                else f"action {action_id} was already undone"
            )
        if row.state != ActionState.EXECUTED:
            raise ResponseError(f"action {action_id} is {row.state}; only executed actions can be undone")
        kind = get_kind(row.kind)
        params = kind.load_params(row.params)
        plan = kind.undo_plan(params, row.outputs)
        row = self._claim(action_id, ActionState.EXECUTED)
        try:
            kind.run(plan)
        except ActionError as exc:
            row = self._finish(action_id, ActionState.EXECUTED, error=str(exc))
            self._record(actor, "response.undo", row, f"failed: {exc}")
            raise
        row = self._finish(action_id, ActionState.UNDONE, undone_by=actor)
        self._record(actor, "response.undo", row, "undone")
        add_note(
            self.cases,
            row.incident_id,
            f"response action {row.id} undone, no longer {kind.describe(params)}",
            actor,
        )
        return row

    # -- steps -----------------------------------------------------------------------------------------

    def _resolve(
        self, kind_name: str, incident: int, address: str | None
    ) -> tuple[ActionKind[Any, Any], Any]:
        kind = get_kind(kind_name)
        options = kind.options(self.settings)
        row = self.cases.incident(incident)
        if not State(row.state).is_open:
            raise ResponseError(f"incident {incident} is {row.state}; responses are for open incidents")
        return kind, kind.params(Target.of(row), options, address)

    def _execute(self, kind: ActionKind[Any, Any], row: ActionRow, actor: str) -> ActionRow:
        params = kind.load_params(row.params)
        try:
            outputs = kind.run(kind.plan(params))
        except ActionError as exc:
            row = self._finish(row.id, ActionState.FAILED, error=str(exc))
            self._record(actor, "response.execute", row, f"failed: {exc}")
            raise
        row = self._finish(row.id, ActionState.EXECUTED, outputs=outputs)
        self._record(actor, "response.execute", row, "executed")
        approved = f", approved by {row.approved_by}" if row.approved_by else ""
        add_note(
            self.cases,
            row.incident_id,
            f"response action {row.id} ({row.kind}{approved}): {kind.describe(params)}",
            actor,
        )
        incident = self.cases.incident(row.incident_id)
        if (
            kind.contains
            and State(incident.state) is State.NOTIFIED
            and State.CONTAINED in next_states(State(incident.state))
        ):
            transition(
                self.cases,
                row.incident_id,
                State.CONTAINED,
                actor,
                reason=f"response action {row.id}: {kind.describe(params)}",
            )
        return row

    def _claim(self, action_id: int, expected: ActionState, approved_by: str | None = None) -> ActionRow:
        """Mark the action running, if it is still in `expected` (nobody else got there first)."""
        now = self.cases.clock()
        with self.cases.writing() as session:
            row = session.get(ActionRow, action_id)
            if row is None or row.state != expected:
                state = row.state if row else "gone"
                raise ResponseError(f"action {action_id} is {state} now; someone else acted on it first")
            row.state, row.runner = ActionState.RUNNING.value, _runner()
            if approved_by is not None:
                row.approved_by, row.approved_at = approved_by, now
        return row

    def _finish(self, action_id: int, state: ActionState, **changes: Any) -> ActionRow:
        now = self.cases.clock()
        with self.cases.writing() as session:
            row = session.get(ActionRow, action_id)
            assert row is not None  # claimed by this process
            row.state, row.runner = state.value, None
            row.error = changes.pop("error", None)
            if state is ActionState.EXECUTED and "outputs" in changes:
                row.executed_at = now
            if state is ActionState.UNDONE:
                row.undone_at = now
            for name, value in changes.items():
                setattr(row, name, value)
        return row

    def _reap(self) -> None:
        """Settle the actions whose runner on this host is gone (see the module's docstring)."""
        with self.cases.reading() as session:
            running = session.scalars(select(ActionRow).where(ActionRow.state == ActionState.RUNNING))
            gone = [(row.id, row.runner) for row in running if row.runner and not _alive(row.runner)]
        for action_id, runner in gone:
            with self.cases.writing() as session:
                row = session.get(ActionRow, action_id)
                if row is None or row.state != ActionState.RUNNING or row.runner != runner:
                    continue  # settled by someone else meanwhile
                undoing = row.executed_at is not None
                step = "undo" if undoing else "execution"
                row.state = (ActionState.EXECUTED if undoing else ActionState.FAILED).value
                row.runner = None
                row.error = (
                    f"{step} interrupted: the process running it ({runner}) ended before it finished, so the "
                    "change may be partly made; check the target, then "
                    + (f"`egovops respond undo {row.id}` again" if undoing else "request the action again")
                )
            self._record("egovops", "response.interrupted", row, f"interrupted: {step}")

    def _record(self, actor: str, what: str, row: ActionRow, result: str) -> None:
        self.audit.append(
            actor,
            what,
            f"incident/{row.incident_id}",
            {
                "action": row.id,
                "kind": row.kind,
                "impact": row.impact,
                "params": row.params,
                "requested_by": row.requested_by,
                "approved_by": row.approved_by,
                "outputs": row.outputs,
                "result": result,
            },
        )

    def _refuse_approval(
        self, actor: str, incident: int, kind: str, params: dict[str, Any], action: int | None
    ) -> None:
        self.audit.append(
            actor,
            "response.approve",
            f"incident/{incident}",
            {
                "action": action,
                "kind": kind,
                "params": params,
                "result": "refused: approver is the requester",
            },
        )
