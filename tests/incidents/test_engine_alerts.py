"""The real detection engine, with the built-in rule pack, over real ingested Suricata and ModSecurity
logs: what it raises is stored once per alert id and grouped by source address and time."""

from __future__ import annotations

from datetime import datetime, timedelta

from secops.detection.alerts import Alert, latest
from secops.detection.engine import Engine
from secops.detection.ruleset import RuleSet
from secops.events import Event, parse_iso
from secops.incidents import CaseStore, record_alerts
from secops.store import Query
from secops.store.sqlite import SQLiteStore


def detect(store: SQLiteStore) -> list[Alert]:
    engine = Engine(RuleSet.load())
    alerts: list[Alert] = []
    for doc in store.export(Query(limit=None)):
        event = doc["event"]
        alerts += engine.process(Event(event["id"], doc["@timestamp"], event["dataset"], doc))
    return alerts + engine.flush()


def expected_groups(alerts: list[Alert], window: timedelta) -> list[set[str]]:
    """The grouping rule stated directly for alerts keyed by source.ip alone: per address, a new group
    whenever an alert starts more than `window` after the group's last alert."""
    groups: list[set[str]] = []
    latest_group: dict[str, tuple[int, datetime]] = {}  # address -> (index in groups, last seen)
    for alert in sorted(alerts, key=lambda a: (a.first_seen, a.id)):
        ip = str(alert.entity["source.ip"])
        start, end = parse_iso(alert.first_seen), parse_iso(alert.last_seen)
        index, last = latest_group.get(ip, (-1, end))
        if index < 0 or start - last > window:
            groups.append(set())
            index, last = len(groups) - 1, end
        groups[index].add(alert.id)
        latest_group[ip] = (index, max(last, end))
    return groups


def test_engine_alerts_are_stored_once_and_grouped_by_source(
    eve_store: SQLiteStore, cases: CaseStore
) -> None:
    raised = detect(eve_store)
    unique = latest(raised)
    assert len(unique) >= 5 and len(raised) > len(unique), "the pack fires, and updates some alerts"
    assert all(set(a.entity) == {"source.ip"} for a in unique)

    incident_ids = record_alerts(cases, raised)
    again = record_alerts(cases, detect(eve_store))

    stored = cases.alerts(limit=None)
    assert sorted(a.id for a in stored) == sorted(a.id for a in unique)
    assert again == incident_ids, "re-running detection changes nothing"
    for alert in unique:
        [row] = [s for s in stored if s.id == alert.id]
        assert (row.count, row.event_ids, row.severity) == (alert.count, alert.event_ids, alert.severity)
    groups = [{a.id for a in cases.incident(n).alerts} for n in incident_ids]
    assert sorted(map(sorted, groups)) == sorted(map(sorted, expected_groups(unique, timedelta(hours=24))))
