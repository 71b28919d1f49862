"""Building events for store tests, and opening Elasticsearch stores that clean up after themselves."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from secops.events import Doc, Event, event_id, put
from secops.store.elasticsearch import ElasticsearchStore


def make_event(
    key: object, timestamp: str, dataset: str = "suricata.eve", text: str = "", **fields: Any
) -> Event:
    """An event as the pipeline hands it to a store: id, timestamp and dataset stamped into the document.

    `fields` are dotted ECS names (`source__ip` is accepted for `source.ip` where a keyword is needed).
    """
    ident = event_id("test", dataset, key)
    doc: Doc = {"@timestamp": timestamp}
    put(doc, "event.id", ident)
    put(doc, "event.dataset", dataset)
    if text:
        put(doc, "event.original", text)
    for name, value in fields.items():
        put(doc, name.replace("__", "."), value)
    return Event(ident, timestamp, dataset, doc)


def open_es(url: str, spool_dir: Path, **options: Any) -> ElasticsearchStore:
    """A store with its own index prefix, so tests sharing one server never see each other's data."""
    return ElasticsearchStore.from_url(
        url, spool_dir=spool_dir, prefix=f"t{uuid.uuid4().hex[:12]}", **options
    )


def drop(store: ElasticsearchStore) -> None:
    """Delete everything the store created on the server, then close it."""
    prefix = store.options.prefix
    store.client.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
    store.client.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-events")
    store.close()
