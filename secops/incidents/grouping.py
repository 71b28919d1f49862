"""Alerts into incidents: an alert joins the open incident that shares an address, host or user with it
and was active within the grouping window (default 24 h, event time); otherwise it opens a new one.

An alert seen again (same id, updated by suppression or a longer correlation) stays where it is. When
several open incidents share an entity with the alert, the one active most recently takes it: incidents
are never merged behind the analyst's back. An alert with none of the entity fields opens its own.

A batch is grouped in memory: one query finds the open incidents any of its entities could join, the
alerts are placed in event-time order, and incidents, links and entities are written in bulk. An
incident's severity, title, span and ATT&CK view only ever grow, so they are updated from the batch
alone, never recomputed over all of an incident's alerts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from secops.detection.alerts import Alert, latest
from secops.events import parse_iso
from secops.incidents import attack
from secops.incidents.cases import CHUNK, CaseStore, severity_rank
from secops.incidents.schema import IncidentAlert, IncidentEntity, IncidentRow
from secops.incidents.states import OPEN_STATES, State

ENTITY_KINDS = {
    "source.ip": "ip",
    "client.ip": "ip",
    "host.name": "host",
    "host.hostname": "host",
    "user.name": "user",
}
"""Alert entity fields that tie alerts together, and the kind each value is compared as."""

Key = tuple[str, str]


def entity_keys(entity: Mapping[str, Any]) -> set[Key]:
    """(kind, value) pairs of an alert's entity; a source address also matches a client address."""
    keys: set[Key] = set()
    for name, kind in ENTITY_KINDS.items():
        value = entity.get(name)
        for item in value if isinstance(value, list) else [value]:
            if item not in (None, ""):
                keys.add((kind, str(item)))
    return keys


@dataclass(eq=False, slots=True)
class _Group:
    """An incident as the batch sees it; `id` is None until a new one is inserted."""

    id: int | None
    first_seen: datetime
    last_seen: datetime
    seq: int  # tie-break among equally recent incidents: stored ones by id, then new ones in order
    keys: set[Key] = field(default_factory=set)
    added_keys: set[Key] = field(default_factory=set)
    joined: list[Alert] = field(default_factory=list)  # alerts linked to it by this batch
    updated: list[Alert] = field(default_factory=list)  # its alerts that this batch updated


def record_alerts(cases: CaseStore, alerts: Iterable[Alert]) -> list[int]:
    """Store alerts (upserted by id) and group them; returns the ids of the incidents they are in."""
    batch = sorted(latest(list(alerts)), key=lambda a: (parse_iso(a.first_seen), a.id))
    if not batch:
        return []
    now = cases.clock()
    with cases.writing() as session:
        known = cases.upsert_alerts(session, batch)
        linked = _links(session, sorted(known))
        fresh = [a for a in batch if a.id not in linked]
        groups, index = _candidates(session, fresh, cases.settings.group_window)
        touched: dict[int, _Group] = {}  # by id(group), in order of first touch
        serial = itertools.count(2**62)
        for alert in batch:
            if alert.id in linked:
                number = linked[alert.id]
                if number not in groups:
                    groups[number] = _stub(number)
                group = groups[number]
                group.updated.append(alert)
            else:
                group = _place(alert, index, cases.settings.group_window, serial)
            touched.setdefault(id(group), group)
        _write(session, list(touched.values()), now)
        return [g.id for g in touched.values() if g.id is not None]


def _stub(number: int) -> _Group:
    """A stored incident that only takes updates (its span is read back when it is written)."""
    moment = datetime.min
    return _Group(number, moment, moment, number)


def _links(session: Session, alert_ids: Sequence[str]) -> dict[str, int]:
    links: dict[str, int] = {}
    for start in range(0, len(alert_ids), CHUNK):
        chunk = alert_ids[start : start + CHUNK]
        query = select(IncidentAlert.alert_id, IncidentAlert.incident_id)
        links.update((a, n) for a, n in session.execute(query.where(IncidentAlert.alert_id.in_(chunk))))
    return links


def _candidates(
    session: Session, alerts: Sequence[Alert], window: timedelta
) -> tuple[dict[int, _Group], dict[Key, list[_Group]]]:
    """Open incidents sharing an entity with any of `alerts` and active near the batch's time span."""
    groups: dict[int, _Group] = {}
    index: dict[Key, list[_Group]] = {}
    keys = sorted({k for a in alerts for k in entity_keys(a.entity)})
    if not keys:
        return groups, index
    low = min(parse_iso(a.first_seen) for a in alerts) - window
    high = max(parse_iso(a.last_seen) for a in alerts) + window
    for start in range(0, len(keys), CHUNK):
        query = (
            select(IncidentEntity.kind, IncidentEntity.value, IncidentRow.id, IncidentRow.first_seen,
                   IncidentRow.last_seen)
            .join(IncidentRow, IncidentRow.id == IncidentEntity.incident_id)
            .where(tuple_(IncidentEntity.kind, IncidentEntity.value).in_(keys[start : start + CHUNK]))
            .where(IncidentRow.state.in_([s.value for s in OPEN_STATES]))
            .where(IncidentRow.last_seen >= low, IncidentRow.first_seen <= high)
        )
        for kind, value, number, first, last in session.execute(query):
            group = groups.get(number)
            if group is None:
                group = groups[number] = _Group(number, first, last, number)
            group.keys.add((kind, value))
            index.setdefault((kind, value), []).append(group)
    return groups, index


def _place(alert: Alert, index: dict[Key, list[_Group]], window: timedelta, serial: Iterator[int]) -> _Group:
    keys = entity_keys(alert.entity)
    start, end = parse_iso(alert.first_seen), parse_iso(alert.last_seen)
    near = {
        id(g): g
        for key in keys
        for g in index.get(key, ())
        if g.last_seen >= start - window and g.first_seen <= end + window
    }
    if near:
        group = max(near.values(), key=lambda g: (g.last_seen, g.seq))
        group.first_seen, group.last_seen = min(group.first_seen, start), max(group.last_seen, end)
    else:
        group = _Group(None, start, end, next(serial))
    group.joined.append(alert)
    for key in sorted(keys - group.keys):
        group.keys.add(key)
        group.added_keys.add(key)
        index.setdefault(key, []).append(group)
    return group


_AGGREGATES = (
    IncidentRow.id, IncidentRow.severity, IncidentRow.title, IncidentRow.first_seen, IncidentRow.last_seen,
    IncidentRow.alert_count, IncidentRow.tactics, IncidentRow.techniques,
)


def _write(session: Session, groups: Sequence[_Group], now: datetime) -> None:
    """New incidents, links, entities, and the grown aggregates of every touched incident, in bulk."""
    current: dict[int, dict[str, Any]] = {}
    numbers = sorted(g.id for g in groups if g.id is not None)
    for start in range(0, len(numbers), CHUNK):
        query = select(*_AGGREGATES).where(IncidentRow.id.in_(numbers[start : start + CHUNK]))
        current.update((row["id"], dict(row)) for row in session.execute(query).mappings())
    fresh = [g for g in groups if g.id is None]
    if fresh:
        values = [
            {
                "title": g.joined[0].title, "severity": g.joined[0].severity, "state": State.NEW.value,
                "first_seen": g.first_seen, "last_seen": g.last_seen, "created_at": now, "updated_at": now,
                "alert_count": 0, "tactics": [], "techniques": [],
            }
            for g in fresh
        ]
        statement = insert(IncidentRow).returning(IncidentRow.id, sort_by_parameter_order=True)
        for group, number, value in zip(fresh, session.scalars(statement, values), values, strict=True):
            group.id = number
            current[number] = {"id": number, **value}
    pairs = [(g, g.id) for g in groups if g.id is not None]
    links = [{"alert_id": a.id, "incident_id": n, "linked_at": now} for g, n in pairs for a in g.joined]
    entities = [{"incident_id": n, "kind": k, "value": v} for g, n in pairs for k, v in sorted(g.added_keys)]
    if links:
        session.execute(insert(IncidentAlert), links)
    if entities:
        session.execute(insert(IncidentEntity), entities)
    session.execute(
        update(IncidentRow),
        [_grown(current[n], [*g.joined, *g.updated], len(g.joined), now) for g, n in pairs],
    )


def _grown(row: Mapping[str, Any], alerts: Sequence[Alert], joined: int, now: datetime) -> dict[str, Any]:
    """Severity (the max; the title of its earliest alert), span, count and ATT&CK view, grown."""
    severity, title = row["severity"], row["title"]
    for alert in alerts:
        if severity_rank(alert.severity) > severity_rank(severity):
            severity, title = alert.severity, alert.title
    tags = [t for a in alerts for t in a.tags]
    tactics = attack.tactics([*row["tactics"], *tags])
    return {
        "id": row["id"],
        "severity": severity,
        "title": title,
        "first_seen": min(row["first_seen"], *(parse_iso(a.first_seen) for a in alerts)),
        "last_seen": max(row["last_seen"], *(parse_iso(a.last_seen) for a in alerts)),
        "alert_count": row["alert_count"] + joined,
        "tactics": tactics,
        "techniques": attack.techniques([*row["techniques"], *tags]),
        "stage": attack.stage(tactics),
        "updated_at": now,
    }
