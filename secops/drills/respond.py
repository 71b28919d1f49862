"""Response in a drill: once a step is detected, the drill acts as the on-duty analyst and a second
approver and blocks the attacker on the range's router through the real response workflow (nft-deny,
a high-impact action: requested, approved by another person, executed, audited). The time from the step's
start until the block is in force is the step's time to respond. Every block is undone when the drill
ends, so the range stays usable.
"""

from __future__ import annotations

from pathlib import Path

from egovops.audit import AuditTrail
from secops.incidents.cases import CaseStore
from secops.response.schema import ActionState
from secops.response.settings import ResponseSettings
from secops.response.workflow import Responder

ANALYST = "drill-analyst"
APPROVER = "drill-lead"


class DrillResponder:
    def __init__(self, cases: CaseStore, work: Path, router_namespace: str) -> None:
        settings = ResponseSettings(
            audit_log=work / "audit.log",
            kinds={"nft-deny": {"namespace": router_namespace, "chain": "forward"}},
        )
        self.audit = AuditTrail(settings.audit_log)
        self.responder = Responder(cases, self.audit, settings)
        self.executed: list[int] = []

    def block(self, kind: str, incident: int, address: str) -> None:
        """Request the action as the analyst and, when it needs a second person, approve it as the lead."""
        row = self.responder.request(kind, incident, ANALYST, address=address)
        if row.state == ActionState.PENDING:
            row = self.responder.approve(row.id, APPROVER)
        self.executed.append(row.id)

    def undo_all(self) -> None:
        for action_id in reversed(self.executed):
            self.responder.undo(action_id, ANALYST)
        self.executed.clear()
