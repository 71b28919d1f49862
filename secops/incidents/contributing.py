"""The events behind an incident's alerts, read back from the event store, and what they say was hit.

Events are fetched by id in one indexed lookup (`Store.get`). An id the store no longer has (pruned by
retention) is reported as missing rather than failing the whole collection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from secops.events import Doc, get
from secops.incidents.schema import AlertRow, IncidentRow
from secops.store import Store


@dataclass(slots=True)
class Contributing:
    events: list[Doc] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def contributing_events(store: Store, alerts: Sequence[AlertRow], limit: int | None = None) -> Contributing:
    """Each contributing event once, oldest first; at most `limit` ids are looked up."""
    wanted = list(dict.fromkeys(event_id for alert in alerts for event_id in alert.event_ids))[:limit]
    docs = store.get(wanted)
    found = Contributing(
        events=[docs[event_id] for event_id in wanted if event_id in docs],
        missing=[event_id for event_id in wanted if event_id not in docs],
    )
    found.events.sort(key=lambda d: (str(d.get("@timestamp", "")), str(get(d, "event.id", ""))))
    return found


ASSET_FIELDS = {
    "sources": ("source.ip", "client.ip"),
    "targets": ("destination.ip", "destination.domain", "url.domain", "server.ip"),
    "hosts": ("host.name", "host.hostname"),
    "users": ("user.name",),
    "urls": ("url.original",),
}
ASSET_LABELS_ZH = {
    "sources": "攻击来源",
    "targets": "受攻击目标",
    "hosts": "涉及主机",
    "users": "涉及账户",
    "urls": "涉及URL",
}


def affected_assets(incident: IncidentRow, docs: Iterable[Doc]) -> dict[str, list[str]]:
    """Addresses, hosts, users and URLs named by the incident's entities and its events, each sorted."""
    found: dict[str, set[str]] = {kind: set() for kind in ASSET_FIELDS}
    kinds = {"ip": "sources", "host": "hosts", "user": "users"}
    for entity in incident.entities:
        found[kinds[entity.kind]].add(entity.value)
    for doc in docs:
        for kind, names in ASSET_FIELDS.items():
            for name in names:
                value = get(doc, name)
                for item in value if isinstance(value, list) else [value]:
                    if item not in (None, ""):
                        found[kind].add(str(item))
    return {kind: sorted(values) for kind, values in found.items()}
