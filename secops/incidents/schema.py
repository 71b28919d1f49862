"""Case tables (SQLAlchemy 2.0): alerts, incidents, their links, entities, transitions, notes,
notifications and evidence. They sit beside the event tables in the same SQLite file, or in their own
database (`cases_url`) when events live in Elasticsearch.

Times are stored as ECS timestamp text (UTC, microseconds, `Z`): it sorts as time, reads the same as
event timestamps, and comes back as aware datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from secops.events import format_ts, parse_iso


class UtcTime(TypeDecorator[datetime]):
    """An aware datetime kept as `2026-01-01T00:00:00.000000Z` text."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        return format_ts(value) if value is not None else None

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        return parse_iso(value) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcTime, dict[str, Any]: JSON, list[str]: JSON}


class AlertRow(Base):
    """One alert as detection handed it out last (upserted by its deterministic id). The summaries are
    not stored: detection derives them from these fields, and so does `to_alert`."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(200), index=True)
    rule_name: Mapped[str | None] = mapped_column(String(200))
    rule_type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    title_zh: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20))
    entity: Mapped[dict[str, Any]]
    event_ids: Mapped[list[str]]
    tags: Mapped[list[str]]
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime] = mapped_column(index=True)
    count: Mapped[int]
    suppressed: Mapped[int] = mapped_column(default=0)
    recorded_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    link: Mapped[IncidentAlert | None] = relationship(back_populates="alert", lazy="selectin")

    @property
    def incident_id(self) -> int | None:
        return self.link.incident_id if self.link else None


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), index=True)
    assignee: Mapped[str | None] = mapped_column(String(200))
    first_seen: Mapped[datetime]  # event time of its first and last alerts
    last_seen: Mapped[datetime] = mapped_column(index=True)  # the queue's order
    created_at: Mapped[datetime]  # wall-clock: when detection raised it (the SLA clocks start here)
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    contained_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    alert_count: Mapped[int] = mapped_column(default=0)
    tactics: Mapped[list[str]]
    techniques: Mapped[list[str]]
    stage: Mapped[str | None] = mapped_column(String(40))

    links: Mapped[list[IncidentAlert]] = relationship(back_populates="incident")
    entities: Mapped[list[IncidentEntity]] = relationship(
        order_by="(IncidentEntity.kind, IncidentEntity.value)"
    )
    transitions: Mapped[list[Transition]] = relationship(order_by="Transition.id")
    notes: Mapped[list[Note]] = relationship(order_by="Note.id")
    notifications: Mapped[list[Notification]] = relationship(order_by="Notification.id")
    evidence: Mapped[list[Evidence]] = relationship(order_by="Evidence.id")

    @property
    def alerts(self) -> list[AlertRow]:
        return sorted((link.alert for link in self.links), key=lambda a: (a.first_seen, a.id))


class IncidentAlert(Base):
    """An alert belongs to the one incident that took it first."""

    __tablename__ = "incident_alerts"

    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    linked_at: Mapped[datetime]

    alert: Mapped[AlertRow] = relationship(back_populates="link")
    incident: Mapped[IncidentRow] = relationship(back_populates="links")


class IncidentEntity(Base):
    """The addresses, hosts and users of an incident's alerts: what a new alert is matched against."""

    __tablename__ = "incident_entities"
    __table_args__ = (Index("incident_entities_key", "kind", "value"),)

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # ip, host, user
    value: Mapped[str] = mapped_column(String(300), primary_key=True)


class Transition(Base):
    __tablename__ = "incident_transitions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)


class Note(Base):
    """A note, or an assignment (kind `assign`, text = the new assignee)."""

    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text)


class Notification(Base):
    """A 通报 as sent: rendered once, kept verbatim."""

    __tablename__ = "incident_notifications"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)


class Evidence(Base):
    """What 溯源 collected: a contributing event (ref = event id) or a pcap cut (ref = file path)."""

    __tablename__ = "incident_evidence"
    __table_args__ = (UniqueConstraint("incident_id", "kind", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    ref: Mapped[str] = mapped_column(Text)
    collected_at: Mapped[datetime]
    timestamp: Mapped[datetime | None]  # event time of an event; None for a pcap
    detail: Mapped[dict[str, Any]]
