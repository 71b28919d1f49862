"""Real events for the case tests: logs ingested by the real pipeline into a real SQLite file, and
alerts made from those events the way the engine makes single-event alerts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from secops.detection.alerts import Alert, alert_id
from secops.events import Doc, get
from secops.ingest.pipeline import Ingestor
from secops.store import Query
from secops.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)

AUTH_LOG = """\
<38>1 2026-11-22T10:00:00+08:00 web01 sshd 4711 - - Failed password for root from 203.0.113.9 port 4242 ssh2
<38>1 2026-11-22T10:00:05+08:00 web01 sshd 4711 - - Failed password for root from 203.0.113.9 port 4243 ssh2
<38>1 2026-11-22T10:05:00+08:00 web01 sshd 4712 - - Accepted password for alice from 10.0.0.5 port 50022 ssh2
<38>1 2026-11-22T10:10:00+08:00 db-2 sshd 4713 - - Accepted password for alice from 10.0.0.6 port 50023 ssh2
<38>1 2026-11-24T10:00:00+08:00 web01 sshd 4714 - - Failed password for bob from 198.51.100.99 port 4244 ssh2
"""
"""Ours: two failures from one address on web01, alice logging in on web01 and then on db-2, and a
failure on web01 two days later (outside the 24 h grouping window)."""

ENTITY_FIELDS = ("source.ip", "client.ip", "host.name", "host.hostname", "user.name")


@dataclass
class FakeClock:
    """Wall-clock time the test moves by hand (SLA clocks, transition times)."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def ingest(db: Path, *paths: Path, fmt: str | None = None) -> SQLiteStore:
    store = SQLiteStore(db)
    report = Ingestor(store).run([str(p) for p in paths], fmt)
    assert report.accepted > 0 and not report.errors, report.as_dict()
    return store


def events(store: SQLiteStore, **fields: str) -> list[Doc]:
    """Stored events, oldest first, whose dotted fields equal the given values (`source__ip=` style)."""
    wanted = {k.replace("__", "."): v for k, v in fields.items()}
    return list(store.export(Query(fields=wanted, limit=None)))


def alert_from(
    docs: Sequence[Doc],
    rule: str,
    severity: str = "medium",
    tags: Sequence[str] = (),
    entity: dict[str, object] | None = None,
) -> Alert:
    """An alert over real events: entity from the first event's fields (as the engine's single-event
    alerts), id from the rule, entity and first event (deterministic, like the engine's)."""
    first, last = str(docs[0]["@timestamp"]), str(docs[-1]["@timestamp"])
    if entity is None:
        entity = {n: v for n in ENTITY_FIELDS if (v := get(docs[0], n)) is not None}
    return Alert(
        id=alert_id(rule, entity, first),
        rule_id=rule,
        title=f"rule {rule}",
        severity=severity,
        entity=entity,
        event_ids=[str(get(d, "event.id")) for d in docs],
        tags=list(tags),
        first_seen=first,
        last_seen=last,
        count=len(docs),
        rule_type="sigma" if len(docs) == 1 else "event_count",
    )
