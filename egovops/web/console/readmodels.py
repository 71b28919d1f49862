"""What the console pages read from the case store: bounded, paginated queries on indexed columns.

Every list is a page of at most `PAGE_SIZE` rows fetched with LIMIT/OFFSET plus one row to know whether
another page follows, so no page view counts a whole table.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from secops.incidents.cases import CaseStore
from secops.incidents.report import incident_summary
from secops.incidents.schema import AlertRow, IncidentEntity, IncidentRow
from secops.incidents.states import OPEN_STATES

PAGE_SIZE = 50
SLA_SCAN = 500
"""Open incidents, most recent first, whose SLA clocks the dashboard looks at."""
TOP_SOURCES = 10
FIGURES_TTL = 10.0
"""Seconds the dashboard reuses its case figures: reading them (SLA clocks of `SLA_SCAN` incidents) took
100 ms of CPU with 8,000 incidents, most of a dashboard view."""

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    has_next: bool


def _page(session: Session, query: Select[T], number: int, size: int = PAGE_SIZE) -> Page[T]:
    rows = list(session.scalars(query.offset((number - 1) * size).limit(size + 1)))
    return Page(rows[:size], number, len(rows) > size)


def incident_queue(
    cases: CaseStore, *, state: str | None, severity: str | None, assignee: str | None, page: int
) -> Page[dict[str, Any]]:
    """Incidents, most recently active first, as `incident_summary` rows (SLA clocks included)."""
    query = (
        select(IncidentRow)
        .options(selectinload(IncidentRow.entities))
        .order_by(IncidentRow.last_seen.desc(), IncidentRow.id.desc())
    )
    if state:
        query = query.where(IncidentRow.state == state)
    if severity:
        query = query.where(IncidentRow.severity == severity)
    if assignee:
        query = query.where(IncidentRow.assignee == assignee)
    now = cases.clock()
    with cases.reading() as session:
        found = _page(session, query, page)
    return Page([incident_summary(r, cases.settings, now) for r in found.items], found.number, found.has_next)


def alert_list(cases: CaseStore, *, severity: str | None, rule: str | None, page: int) -> Page[AlertRow]:
    """Alerts, most recent (event time) first; each keeps its count of suppressed duplicates."""
    query = select(AlertRow).order_by(AlertRow.last_seen.desc(), AlertRow.id)
    if severity:
        query = query.where(AlertRow.severity == severity)
    if rule:
        query = query.where(AlertRow.rule_id == rule)
    with cases.reading() as session:
        return _page(session, query, page)


@dataclass(frozen=True)
class CaseFigures:
    """The dashboard's view of the cases: open incidents by state and severity, top sources, breaches."""

    open_by_state: dict[str, Counter[str]]
    top_sources: list[tuple[str, int]]
    breaches: list[dict[str, Any]]


def case_figures(cases: CaseStore) -> CaseFigures:
    open_states = [s.value for s in OPEN_STATES]
    by_state: dict[str, Counter[str]] = {s: Counter() for s in open_states}
    now = cases.clock()
    with cases.reading() as session:
        for state, severity, n in session.execute(
            select(IncidentRow.state, IncidentRow.severity, func.count())
            .where(IncidentRow.state.in_(open_states))
            .group_by(IncidentRow.state, IncidentRow.severity)
        ):
            by_state[state][severity] = n
        sources = session.execute(
            select(IncidentEntity.value, func.count())
            .join(IncidentRow, IncidentRow.id == IncidentEntity.incident_id)
            .where(IncidentEntity.kind == "ip", IncidentRow.state.in_(open_states))
            .group_by(IncidentEntity.value)
            .order_by(func.count().desc(), IncidentEntity.value)
            .limit(TOP_SOURCES)
        )
        top = [(str(value), int(n)) for value, n in sources]
        recent = session.scalars(
            select(IncidentRow)
            .options(selectinload(IncidentRow.entities))
            .where(IncidentRow.state.in_(open_states))
            .order_by(IncidentRow.created_at.desc())
            .limit(SLA_SCAN)
        )
        summaries = [incident_summary(row, cases.settings, now) for row in recent]
    breaches = [s for s in summaries if any(clock["breached"] for clock in s["sla"].values())]
    return CaseFigures(by_state, top, breaches)


def last_fired(cases: CaseStore) -> dict[str, datetime]:
    """The event time each rule last raised an alert at, by rule id."""
    with cases.reading() as session:
        query = select(AlertRow.rule_id, func.max(AlertRow.last_seen)).group_by(AlertRow.rule_id)
        return {rule: at for rule, at in session.execute(query)}  # max() keeps the type: aware datetimes
