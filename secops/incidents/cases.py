"""The case store: one SQLAlchemy engine, short transactions, and the reads the CLI and API need.

Writes take SQLite's write lock up front (`BEGIN IMMEDIATE`): a transaction that reads and then writes
would otherwise fail with "database is locked" when the ingest writer commits in between, which a busy
timeout cannot fix. Reads stay deferred, so listing incidents never waits for ingest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, create_engine, event, insert, select, update
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from secops.detection.alerts import SEVERITIES, Alert
from secops.events import format_ts, parse_iso, utc_now
from secops.incidents.errors import CaseNotFoundError
from secops.incidents.schema import AlertRow, Base, IncidentAlert, IncidentRow
from secops.incidents.settings import IncidentSettings
from secops.store import StoreError

CHUNK = 500
"""Ids per `IN (...)` lookup: well under SQLite's limit on bound parameters."""
BESIDE_ELASTICSEARCH = "sqlite:///var/egovops-cases.db"
"""Where cases go when events are in Elasticsearch and no `cases_url` is set."""

_FULL = (
    selectinload(IncidentRow.links).selectinload(IncidentAlert.alert),
    selectinload(IncidentRow.entities),
    selectinload(IncidentRow.transitions),
    selectinload(IncidentRow.notes),
    selectinload(IncidentRow.notifications),
    selectinload(IncidentRow.evidence),
)


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy emit BEGIN itself (deferred for reads, IMMEDIATE for writes)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout=30000")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class CaseStore:
    """Alerts and incidents in one database; `clock` is wall-clock time (SLA clocks, who-did-what-when)."""

    def __init__(
        self, url: str, settings: IncidentSettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.url = url
        self.settings = settings or IncidentSettings()
        self.clock = clock
        try:
            engine = create_engine(url)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"{url}: not a usable case store URL ({exc}); use sqlite:///PATH") from exc
        if engine.dialect.name == "sqlite":
            _sqlite_transactions(engine)
            if engine.url.database and engine.url.database != ":memory:":
                Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            Base.metadata.create_all(engine)
            for table in Base.metadata.sorted_tables:  # indexes added since a file was made
                for index in table.indexes:
                    index.create(engine, checkfirst=True)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the case store at {url}: {exc}") from exc
        self.engine = engine
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(engine.execution_options(immediate=True), expire_on_commit=False)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._errors(), self._reads() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._errors(), self._writes.begin() as session:
            yield session

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StoreError(f"case store {self.url}: {cause}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- alerts ----------------------------------------------------------------------------------------

    def upsert_alerts(self, session: Session, alerts: Sequence[Alert]) -> set[str]:
        """Insert new alerts and update known ones in place, in bulk; returns the ids that were known."""
        now = self.clock()
        known: set[str] = set()
        ids = [a.id for a in alerts]
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            known.update(session.scalars(select(AlertRow.id).where(AlertRow.id.in_(chunk))))
        fresh = [{**_columns(a), "recorded_at": now, "updated_at": now} for a in alerts if a.id not in known]
        changed = [{**_columns(a), "updated_at": now} for a in alerts if a.id in known]
        if fresh:
            session.execute(insert(AlertRow), fresh)
        if changed:
            session.execute(update(AlertRow), changed)
        return known

    def alerts(
        self,
        *,
        since: datetime | None = None,
        min_severity: str | None = None,
        rule: str | None = None,
        incident: int | None = None,
        limit: int | None = 100,
    ) -> list[AlertRow]:
        """Alerts, most recent (event time) first."""
        query = select(AlertRow).order_by(AlertRow.last_seen.desc(), AlertRow.id)
        if since is not None:
            query = query.where(AlertRow.last_seen >= since)
        if min_severity is not None:
            query = query.where(AlertRow.severity.in_(SEVERITIES[severity_rank(min_severity) :]))
        if rule is not None:
            query = query.where((AlertRow.rule_id == rule) | (AlertRow.rule_name == rule))
        if incident is not None:
            query = query.join(IncidentAlert).where(IncidentAlert.incident_id == incident)
        if limit is not None:
            query = query.limit(limit)
        with self.reading() as session:
            return list(session.scalars(query))

    def sla_breaches(self, now: datetime | None = None) -> dict[tuple[str, str], list[int]]:
        """Open incidents whose SLA clock has run out, by (clock, severity): their numbers."""
        from secops.incidents.sla import sla
        from secops.incidents.states import OPEN_STATES

        now = now or self.clock()
        breached: dict[tuple[str, str], list[int]] = {}
        with self.reading() as session:
            for row in session.scalars(select(IncidentRow).where(IncidentRow.state.in_(OPEN_STATES))):
                clocks = sla(row, self.settings, now)
                for name, clock in (("acknowledge", clocks.acknowledge), ("contain", clocks.contain)):
                    if clock.breached:
                        breached.setdefault((name, row.severity), []).append(row.id)
        return breached

    def alert(self, key: str) -> AlertRow:
        """An alert by its id or an unambiguous prefix of it (ids are 32 hex digits)."""
        with self.reading() as session:
            query = select(AlertRow).where(AlertRow.id.startswith(key, autoescape=True)).limit(2)
            found = list(session.scalars(query))
        if len(found) != 1:
            why = "several alerts start with" if found else "no alert has the id"
            raise CaseNotFoundError(f"{why} {key!r}; `egovops alerts list` shows the ids")
        return found[0]

    # -- incidents -------------------------------------------------------------------------------------

    def incident(self, number: int) -> IncidentRow:
        """One incident with everything it holds (alerts, transitions, notes, notifications, evidence)."""
        with self.reading() as session:
            return self.get_incident(session, number, full=True)

    def get_incident(self, session: Session, number: int, *, full: bool = False) -> IncidentRow:
        row = session.get(IncidentRow, number, options=_FULL if full else ())
        if row is None:
            raise CaseNotFoundError(f"no incident {number}; `egovops incidents list` shows them")
        return row

    def incidents(
        self,
        *,
        states: Sequence[str] = (),
        min_severity: str | None = None,
        assignee: str | None = None,
        limit: int | None = 100,
    ) -> list[IncidentRow]:
        """Incidents, most recently active first, with their entities loaded."""
        query = (
            select(IncidentRow)
            .options(selectinload(IncidentRow.entities))
            .order_by(IncidentRow.last_seen.desc(), IncidentRow.id.desc())
        )
        if states:
            query = query.where(IncidentRow.state.in_(states))
        if min_severity is not None:
            query = query.where(IncidentRow.severity.in_(SEVERITIES[severity_rank(min_severity) :]))
        if assignee is not None:
            query = query.where(IncidentRow.assignee == assignee)
        if limit is not None:
            query = query.limit(limit)
        with self.reading() as session:
            return list(session.scalars(query))


def _columns(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule_id": alert.rule_id,
        "rule_name": alert.rule_name,
        "rule_type": alert.rule_type,
        "title": alert.title,
        "title_zh": alert.title_zh,
        "severity": alert.severity,
        "entity": dict(alert.entity),
        "event_ids": list(alert.event_ids),
        "tags": list(alert.tags),
        "first_seen": parse_iso(alert.first_seen),
        "last_seen": parse_iso(alert.last_seen),
        "count": alert.count,
        "suppressed": alert.suppressed,
    }


def to_alert(row: AlertRow) -> Alert:
    """The stored alert in detection's own shape (its summaries derived as detection derives them)."""
    return Alert(
        id=row.id,
        rule_id=row.rule_id,
        title=row.title,
        severity=row.severity,
        entity=dict(row.entity),
        event_ids=list(row.event_ids),
        tags=list(row.tags),
        first_seen=format_ts(row.first_seen),
        last_seen=format_ts(row.last_seen),
        count=row.count,
        rule_type=row.rule_type,
        suppressed=row.suppressed,
        rule_name=row.rule_name,
        title_zh=row.title_zh,
    )


def cases_url_for(store_url: str, settings: IncidentSettings) -> str:
    """The configured case store, else the event store's SQLite file, else a file beside Elasticsearch."""
    if settings.cases_url:
        return settings.cases_url
    scheme = urlsplit(store_url).scheme
    if scheme == "sqlite":
        return store_url
    if scheme in {"elasticsearch", "elasticsearchs"}:
        return BESIDE_ELASTICSEARCH
    raise StoreError(f"{store_url}: unknown store URL; use sqlite:///PATH or elasticsearch://HOST:PORT")


def open_cases(
    store_url: str,
    cases_url: str | None = None,
    *,
    settings: IncidentSettings | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> CaseStore:
    """The case store that goes with the event store at `store_url` (or at `cases_url` if given)."""
    settings = settings or IncidentSettings()
    return CaseStore(cases_url or cases_url_for(store_url, settings), settings, clock)
