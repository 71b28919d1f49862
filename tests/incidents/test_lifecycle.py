"""发现 → 通报 → 处置 → 溯源 → 打击 on a real incident: who and when, refusals, reasons, SLA clocks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from secops.incidents import CaseError, CaseNotFoundError, CaseStore, record_alerts
from secops.incidents.lifecycle import add_note, assign, transition
from secops.incidents.report import incident_summary
from secops.incidents.settings import IncidentSettings
from secops.incidents.trace import trace
from secops.store.sqlite import SQLiteStore
from tests.incidents.helpers import T0, FakeClock, alert_from, events


@pytest.fixture
def incident(auth_store: SQLiteStore, cases: CaseStore) -> int:
    failures = events(auth_store, source__ip="203.0.113.9")
    [number] = record_alerts(cases, [alert_from(failures, "ssh-brute", "critical", ("attack.t1110",))])
    return number


def test_the_whole_path_records_every_move_with_who_and_when(
    incident: int, cases: CaseStore, auth_store: SQLiteStore, clock: FakeClock
) -> None:
    clock.advance(minutes=5)
    assign(cases, incident, "zhang.wei", actor="lead")
    clock.advance(minutes=5)
    transition(cases, incident, "通报", "zhang.wei", recipients=["网信办"], events=auth_store)
    clock.advance(hours=1)
    transition(cases, incident, "contained", "zhang.wei", reason="source blocked at the firewall")
    trace(cases, incident, auth_store, actor="zhang.wei")
    clock.advance(hours=1)
    transition(cases, incident, "溯源", "li.na")
    clock.advance(hours=1)
    action = "address reported to 公安局; account hardened"
    row = transition(cases, incident, "closed", "li.na", reason=action)

    moves = [(t.from_state, t.to_state, t.actor, t.at - T0, t.reason) for t in row.transitions]
    assert moves == [
        ("new", "notified", "zhang.wei", timedelta(minutes=10), None),
        ("notified", "contained", "zhang.wei", timedelta(minutes=70), "source blocked at the firewall"),
        ("contained", "traced", "li.na", timedelta(minutes=130), None),
        ("traced", "closed", "li.na", timedelta(minutes=190), action),
    ]
    assert (row.state, row.assignee) == ("closed", "zhang.wei")
    assert [(n.kind, n.actor, n.text) for n in row.notes] == [("assign", "lead", "zhang.wei")]
    assert row.acknowledged_at == T0 + timedelta(minutes=5)
    assert row.contained_at == T0 + timedelta(minutes=70)
    assert row.closed_at == T0 + timedelta(minutes=190)
    assert len(row.notifications) == 1 and row.notifications[0].recipient == "网信办"


@pytest.mark.parametrize(
    ("path", "target", "message"),
    [
        ([], "contained", "cannot go from new (发现) to contained (处置); next can be: notified (通报)"),
        ([], "traced", "cannot go from new (发现) to traced (溯源)"),
        ([("false_positive", "scanner")], "notified", "already false_positive (误报); it cannot move on"),
        ([], "closed", "cannot go from new (发现) to closed (打击)"),
        ([], "escalated", "'escalated' is not an incident state"),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(
    incident: int, cases: CaseStore, path: list[tuple[str, str]], target: str, message: str
) -> None:
    for state, reason in path:
        transition(cases, incident, state, "analyst", reason=reason)
    before = cases.incident(incident)

    with pytest.raises(CaseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        transition(cases, incident, target, "analyst", recipients=["网信办"] if target == "notified" else [])

    after = cases.incident(incident)
    assert (after.state, len(after.transitions)) == (before.state, len(before.transitions))


def test_dismissals_need_a_reason_and_work_from_any_open_state(incident: int, cases: CaseStore) -> None:
    with pytest.raises(CaseError, match="needs --reason: why it is not an attack"):
        transition(cases, incident, "benign", "analyst", reason="  ")
    transition(cases, incident, "notified", "analyst", recipients=["市大数据局"])
    transition(cases, incident, "处置", "analyst")

    row = transition(cases, incident, "无害", "analyst", reason="authorised penetration test")

    assert (row.state, row.transitions[-1].reason) == ("benign", "authorised penetration test")
    with pytest.raises(CaseError, match="is closed"):
        assign(cases, incident, "someone", "lead")


def test_notified_needs_a_recipient_and_traced_needs_evidence(incident: int, cases: CaseStore) -> None:
    with pytest.raises(CaseError, match="needs at least one --recipient"):
        transition(cases, incident, "notified", "analyst")
    with pytest.raises(CaseError, match="--recipient belongs to the move to notified"):
        transition(cases, incident, "false_positive", "analyst", reason="x", recipients=["网信办"])
    transition(cases, incident, "notified", "analyst", recipients=["网信办", "公安局"])
    transition(cases, incident, "contained", "analyst")

    with pytest.raises(CaseError, match="run `egovops incidents trace 1`"):
        transition(cases, incident, "traced", "analyst")
    assert [n.recipient for n in cases.incident(incident).notifications] == ["网信办", "公安局"]


def test_notes_and_unknown_incidents(incident: int, cases: CaseStore) -> None:
    add_note(cases, incident, "called the owner of web01", "analyst")
    with pytest.raises(CaseError, match="a note needs some text"):
        add_note(cases, incident, " ", "analyst")
    with pytest.raises(CaseNotFoundError, match="no incident 99"):
        add_note(cases, 99, "x", "analyst")
    notes = cases.incident(incident).notes
    assert [(n.kind, n.text) for n in notes] == [("note", "called the owner of web01")]


def test_sla_clocks_of_a_critical_incident(incident: int, cases: CaseStore, clock: FakeClock) -> None:
    def flags() -> tuple[bool, bool]:
        sla = incident_summary(cases.incident(incident), cases.settings, clock())["sla"]
        return sla["acknowledge"]["breached"], sla["contain"]["breached"]

    clock.advance(minutes=14)
    assert flags() == (False, False)
    clock.advance(minutes=2)
    assert flags() == (True, False), "critical: acknowledge within 15 minutes"
    assign(cases, incident, "zhang.wei", "lead")
    clock.advance(hours=3)
    transition(cases, incident, "notified", "zhang.wei", recipients=["网信办"])
    transition(cases, incident, "contained", "zhang.wei")
    clock.advance(days=2)
    assert flags() == (True, False), "contained at 3h16m, inside 4 h; stopped clocks stay as they were"
    summary = incident_summary(cases.incident(incident), cases.settings, clock())
    assert summary["sla"]["acknowledge"]["met_at"] == "2026-11-22T02:16:00.000000Z"
    assert summary["sla"]["contain"]["due"] == "2026-11-22T06:00:00.000000Z"


def test_sla_targets_follow_severity_and_settings(
    auth_store: SQLiteStore, db: Path, clock: FakeClock
) -> None:
    settings = IncidentSettings.model_validate({"sla": {"low": {"acknowledge": "30m", "contain": "2h"}}})
    cases = CaseStore(f"sqlite:///{db}", settings, clock)
    failures = events(auth_store, source__ip="203.0.113.9")
    [low] = record_alerts(cases, [alert_from(failures, "fail", "low", entity={"source.ip": "203.0.113.9"})])
    [high] = record_alerts(cases, [alert_from(failures, "x", "high", entity={"source.ip": "10.9.9.9"})])
    clock.advance(minutes=45)
    transition(cases, high, "notified", "a", recipients=["网信办"])
    clock.advance(hours=2)

    low_sla = incident_summary(cases.incident(low), cases.settings, clock())["sla"]
    high_sla = incident_summary(cases.incident(high), cases.settings, clock())["sla"]
    assert (low_sla["acknowledge"]["breached"], low_sla["contain"]["breached"]) == (True, True)
    assert (high_sla["acknowledge"]["breached"], high_sla["contain"]["breached"]) == (False, False)
    assert high_sla["contain"]["due"] == "2026-11-23T02:00:00.000000Z", "high keeps its default 24 h"
    cases.close()
