"""Alerts into incidents, on real ingested sshd events: shared entities, the window, severity, ATT&CK."""

from __future__ import annotations

from sqlalchemy import func, select

from secops.incidents import CaseStore, record_alerts
from secops.incidents.lifecycle import transition
from secops.incidents.schema import AlertRow, IncidentAlert
from secops.store.sqlite import SQLiteStore
from tests.incidents.helpers import alert_from, events

BRUTE = ("attack.credential-access", "attack.t1110.001")
LOGIN = ("attack.initial-access", "attack.t1078", "attack.persistence")


def test_alerts_sharing_host_or_user_within_the_window_form_one_incident(
    auth_store: SQLiteStore, cases: CaseStore
) -> None:
    failures = events(auth_store, source__ip="203.0.113.9")
    web01 = events(auth_store, source__ip="10.0.0.5")
    db2 = events(auth_store, source__ip="10.0.0.6")
    later = events(auth_store, source__ip="198.51.100.99")
    brute = alert_from(failures, "ssh-brute", "high", BRUTE)
    login_web01 = alert_from(web01, "ssh-login", "medium", LOGIN)  # shares host web01 with the brute force
    login_db2 = alert_from(db2, "ssh-login", "medium", LOGIN)  # shares only user alice with the login
    two_days_on = alert_from(later, "ssh-fail", "low", BRUTE)  # web01 again, but 48 h later

    ids = record_alerts(cases, [two_days_on, login_db2, brute, login_web01])

    assert ids == [1, 2], "in event-time order: the web01 incident first, then the one two days on"
    first, second = cases.incident(1), cases.incident(2)
    assert [a.id for a in first.alerts] == [brute.id, login_web01.id, login_db2.id]
    assert [a.id for a in second.alerts] == [two_days_on.id]
    assert first.severity == "high" and first.title == "rule ssh-brute"
    assert first.alert_count == 3
    assert {(e.kind, e.value) for e in first.entities} == {
        ("ip", "203.0.113.9"), ("ip", "10.0.0.5"), ("ip", "10.0.0.6"),
        ("host", "web01"), ("host", "db-2"), ("user", "root"), ("user", "alice"),
    }
    assert first.tactics == ["initial-access", "persistence", "credential-access"]
    assert first.techniques == ["T1078", "T1110.001"]
    assert first.stage == "credential-access"
    assert first.state == "new" and second.state == "new"
    assert first.first_seen.isoformat() == "2026-11-22T02:00:00+00:00"
    assert first.last_seen.isoformat() == "2026-11-22T02:10:00+00:00"


def test_recording_again_upserts_alerts_and_keeps_their_incident(
    auth_store: SQLiteStore, cases: CaseStore
) -> None:
    failures = events(auth_store, source__ip="203.0.113.9")
    early = alert_from(failures[:1], "ssh-brute", "medium", BRUTE, entity={"source.ip": "203.0.113.9"})
    grown = alert_from(failures, "ssh-brute", "critical", BRUTE, entity={"source.ip": "203.0.113.9"})
    assert early.id == grown.id, "same rule, group and window start: the engine's update of one alert"

    assert record_alerts(cases, [early]) == [1]
    assert record_alerts(cases, [early]) == [1]
    assert record_alerts(cases, [grown]) == [1]

    with cases.reading() as session:
        assert session.scalar(select(func.count()).select_from(AlertRow)) == 1
        assert session.scalar(select(func.count()).select_from(IncidentAlert)) == 1
    [stored] = cases.alerts()
    assert (stored.count, stored.severity, stored.event_ids) == (2, "critical", grown.event_ids)
    incident = cases.incident(1)
    assert (incident.severity, incident.alert_count) == ("critical", 1), "the incident follows its alert"


def test_client_ip_matches_source_ip(auth_store: SQLiteStore, cases: CaseStore) -> None:
    failures = events(auth_store, source__ip="203.0.113.9")
    ssh = alert_from(failures, "ssh-brute", "high", BRUTE, entity={"source.ip": "203.0.113.9"})
    waf = alert_from(failures[1:], "waf-hit", "medium", (), entity={"client.ip": "203.0.113.9"})
    other = alert_from(failures[1:], "waf-hit", "medium", (), entity={"client.ip": "203.0.113.10"})

    assert record_alerts(cases, [ssh, waf, other]) == [1, 2]
    assert [a.id for a in cases.incident(1).alerts] == [ssh.id, waf.id]


def test_closed_incidents_take_no_new_alerts(auth_store: SQLiteStore, cases: CaseStore) -> None:
    failures = events(auth_store, source__ip="203.0.113.9")
    first = alert_from(failures[:1], "ssh-fail", "low", BRUTE, entity={"source.ip": "203.0.113.9"})
    again = alert_from(failures[1:], "ssh-fail", "low", BRUTE, entity={"source.ip": "203.0.113.9"})
    record_alerts(cases, [first])
    transition(cases, 1, "false_positive", "analyst", reason="our own scanner")

    assert record_alerts(cases, [again]) == [2]
    assert cases.incident(1).alert_count == 1


def test_an_alert_without_entity_fields_opens_its_own_incident(
    auth_store: SQLiteStore, cases: CaseStore
) -> None:
    failures = events(auth_store, source__ip="203.0.113.9")
    a = alert_from(failures[:1], "dst-only", "low", (), entity={"destination.ip": "10.0.0.1"})
    b = alert_from(failures[1:], "dst-only", "low", (), entity={"destination.ip": "10.0.0.1"})

    assert record_alerts(cases, [a, b]) == [1, 2]
    assert cases.incident(1).entities == []
