"""Changes through the API (issue 3's routes): they call the same case and response functions as the
CLI, and each lands in the audit trail with who, how, from where, and the state before and after."""

from __future__ import annotations

from typing import Any

import requests

from egovops.security.deps import CSRF_HEADER
from egovops.security.roles import Role
from tests.security.conftest import Plane, csrf_of


def api(
    plane: Plane, role: Role, method: str, path: str, body: dict[str, Any] | None = None
) -> requests.Response:
    headers = {"Authorization": f"Bearer {plane.tokens[role]}"}
    return requests.request(method, f"{plane.url}{path}", json=body, headers=headers, timeout=60)


def last_record(plane: Plane, action: str) -> dict[str, Any]:
    records: list[dict[str, Any]] = api(plane, Role.AUDITOR, "GET", "/api/audit?limit=1000").json()
    return [r for r in records if r["action"] == action][-1]


def open_incident(plane: Plane) -> int:
    new = api(plane, Role.ANALYST, "GET", "/api/incidents?state=new").json()
    assert new, "the ingested Suricata logs raise incidents"
    number: int = new[-1]["id"]
    return number


def test_incident_changes_are_audited_with_before_and_after(
    plane: Plane, sessions: dict[Role, requests.Session]
) -> None:
    number = open_incident(plane)
    session = sessions[Role.ANALYST]
    csrf = {CSRF_HEADER: csrf_of(session, plane.url)}
    assigned = session.post(
        f"{plane.url}/api/incidents/{number}/assign", json={"assignee": "analyst"}, headers=csrf, timeout=60
    )
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "analyst"
    record = last_record(plane, "incident.assign")
    assert (record["actor"], record["target"]) == ("analyst", f"incident/{number}")
    assert record["detail"]["source"] == "127.0.0.1"
    assert (record["detail"]["role"], record["detail"]["via"]) == ("analyst", "session")
    assert record["detail"]["before"] == {"state": "new", "assignee": None}
    assert record["detail"]["after"] == {"state": "new", "assignee": "analyst"}

    moved = api(
        plane,
        Role.ANALYST,
        "POST",
        f"/api/incidents/{number}/transition",
        {"to": "通报", "recipients": ["网信办"]},
    )
    assert moved.status_code == 200 and moved.json()["state"] == "notified"
    record = last_record(plane, "incident.transition")
    assert record["detail"]["before"]["state"] == "new" and record["detail"]["after"]["state"] == "notified"
    assert record["detail"]["via"] == "token" and record["detail"]["recipients"] == ["网信办"]

    refused = api(plane, Role.ANALYST, "POST", f"/api/incidents/{number}/transition", {"to": "traced"})
    assert refused.status_code == 409  # the lifecycle's refusal, as an answer
    assert refused.json()["detail"].startswith("cannot go from notified (通报) to traced (溯源)")

    assert (
        api(plane, Role.AUDITOR, "POST", f"/api/incidents/{number}/notes", {"text": "x"}).status_code == 403
    )
    assert api(plane, Role.ADMIN, "POST", f"/api/incidents/{number}/notes", {"text": "x"}).status_code == 403
    assert api(plane, Role.AUDITOR, "GET", "/api/audit/verify").json()["ok"] is True


def test_high_impact_response_needs_a_second_person(plane: Plane) -> None:
    number = open_incident(plane)
    api(
        plane,
        Role.ANALYST,
        "POST",
        f"/api/incidents/{number}/transition",
        {"to": "notified", "recipients": ["公安局"]},
    )
    block = plane.home / "var" / "file-block.txt"
    dry = api(
        plane,
        Role.ANALYST,
        "POST",
        f"/api/incidents/{number}/respond",
        {"kind": "file-block", "dry_run": True},
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and dry.json()["impact"] == "high"
    assert not block.exists()

    requested = api(plane, Role.ANALYST, "POST", f"/api/incidents/{number}/respond", {"kind": "file-block"})
    assert requested.status_code == 200, requested.text
    action = requested.json()["id"]
    assert requested.json()["state"] == "pending"
    own = api(plane, Role.ANALYST, "POST", f"/api/actions/{action}/approve")
    assert own.status_code == 409 and "second person" in own.json()["detail"]
    assert api(plane, Role.AUDITOR, "POST", f"/api/actions/{action}/approve").status_code == 403
    assert not block.exists()

    approved = api(plane, Role.ADMIN, "POST", f"/api/actions/{action}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "executed" and approved.json()["approved_by"] == "admin-script"
    assert block.read_text().strip()
    record = last_record(plane, "response.approve")
    assert record["actor"] == "admin-script" and record["target"] == f"action:{action}"
    assert (
        record["detail"]["before"]["state"] == "pending" and record["detail"]["after"]["state"] == "executed"
    )

    undone = api(plane, Role.ANALYST, "POST", f"/api/actions/{action}/undo")
    assert undone.status_code == 200 and undone.json()["state"] == "undone"
    assert block.read_text().strip() == ""
    assert api(plane, Role.ANALYST, "POST", "/api/actions/99999/undo").status_code == 404
