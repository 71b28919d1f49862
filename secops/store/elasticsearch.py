"""The Elasticsearch backend: monthly indices per dataset, ECS mappings, bulk writes that survive outages.

Layout. Events go to `{prefix}-events-{dataset}-{YYYY.MM}` (one shard, no replica): monthly, because one
node caps at 1000 shards and daily indices x datasets x 180 days of retention would exceed it; per
dataset, because retention is per dataset and dropping a whole index is far cheaper than deleting
documents. A composable template (`ecs_template.json`) maps the ECS fields the sources write and maps
unknown strings as keywords, so `k=v` is an exact match as on SQLite.

Same semantics as SQLite. Every document carries a hidden `_egovops` object (indexed, removed from
documents on reading) with the id, timestamp, dataset and free-text tokens (of `message`) the SQLite
backend keeps in its columns and FTS index. The tokens are cut in Python by `store.base.tokens`: the
integ-test distribution has no analysis-common module (no `pattern` tokenizer), and one tokenizer for
both backends cannot drift.
Sorting is by `_egovops.ts` (nanosecond dates, so microsecond timestamps order exactly as their text)
then id, like SQLite's `ORDER BY ts, id`.

Outages. Writes are bulk `create`s with `_id = event.id`, so a re-send is a 409 and counts as a
duplicate. Connection errors, 429 and 5xx are retried with exponential backoff; when the retries are
spent the documents go to a durable local spool (`spool.py`) and are delivered in order before anything
newer, on the next write or by `flush()`. The distribution has no reindex module either, so retention
deletes whole monthly indices and removes the rest of the boundary month document by document.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elastic_transport.client_utils import DEFAULT
from elasticsearch import ApiError, Elasticsearch
from elasticsearch.serializer import OrjsonSerializer

from secops.events import DeadLetter, Doc, Event, days_ago, decode, format_ts, parse_iso, utc_now
from secops.store.base import (
    TOKEN,
    Checkpoint,
    Query,
    Retention,
    Stats,
    Store,
    StoreError,
    WriteResult,
    tokens,
)
from secops.store.spool import Item, Spool

log = logging.getLogger(__name__)

HIDDEN = "_egovops"
"""The object holding what SQLite keeps in columns (id, ts, dataset, text tokens); stripped on reading.

It stays in `_source` rather than being excluded by the mapping: source filtering at index time costs
Elasticsearch about a quarter of its indexing CPU for these documents (measured, see the benchmark)."""

_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_PAGE = 5000
_INTEGER_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
_REAL_TYPES = frozenset({"double", "float", "half_float", "scaled_float"})
_DATE_TYPES = frozenset({"date", "date_nanos"})


def ecs_template() -> dict[str, Any]:
    """Settings and ECS mappings shared by every event index (package data, so auditors can read it)."""
    text = resources.files("secops.store").joinpath("ecs_template.json").read_text("utf-8")
    template: dict[str, Any] = json.loads(text)
    return template


def _index_part(dataset: str) -> str:
    """A dataset name as it may appear inside an index name (lower case, no reserved characters)."""
    return "".join(c if c.isalnum() or c in "._" else "_" for c in dataset.lower())


def _text_tokens(text: str | None) -> list[str]:
    """The free-text tokens of a document's `message`, as `store.base.tokens` cuts them."""
    if not text:
        return []
    # Lower-casing ASCII cannot change which characters are token characters: cut once, lower once.
    return TOKEN.findall(text.lower()) if text.isascii() else tokens(text)


def _typed_term(name: str, kind: str, value: str) -> dict[str, Any] | None:
    """A term query for `value` on a field of mapping type `kind`, or None if no such value can exist.

    SQLite compares values as text; here numbers, booleans and addresses compare by value, and a value
    that cannot be of the field's type matches nothing (instead of failing the whole search).
    """
    term: Any = value
    try:
        if kind in _INTEGER_TYPES:
            term = int(value)
        elif kind in _REAL_TYPES:
            term = float(value)
            if not math.isfinite(term):
                return None
        elif kind == "boolean":
            if value not in ("true", "false"):
                return None
        elif kind == "ip":
            term = str(ipaddress.ip_address(value))
        elif kind in _DATE_TYPES:
            parse_iso(value)
    except ValueError:
        return None
    return {"term": {name: term}}


@dataclass(slots=True)
class ElasticsearchOptions:
    """Tuning of the backend; every value has a default that works on a single local node."""

    prefix: str = "egovops"
    retries: int = 3
    backoff: float = 0.25
    reconnect_interval: float = 5.0
    bulk_docs: int = 2000
    bulk_bytes: int = 8 * 1024 * 1024
    request_timeout: float = 60.0
    refresh_interval: str = "5s"
    ca_certs: str | None = None
    verify_certs: bool = True


class _Unreachable(Exception):  # noqa: N818 - an outcome the caller handles, not a crash
    """Elasticsearch did not take `pending` even after retries."""

    def __init__(self, pending: list[Item], reason: str) -> None:
        super().__init__(reason)
        self.pending = pending


@dataclass(slots=True)
class _Delivery:
    stored: int = 0
    duplicates: int = 0
    refused: list[tuple[Item, str]] = field(default_factory=list)


class ElasticsearchStore(Store):
    def __init__(
        self,
        url: str,
        client: Elasticsearch,
        spool_dir: str | Path,
        options: ElasticsearchOptions | None = None,
    ) -> None:
        self.url = url
        self.client = client
        self.options = options or ElasticsearchOptions()
        self.spool = Spool(spool_dir)
        prefix = self.options.prefix
        self.events_pattern = f"{prefix}-events-*"
        self.deadletter_index = f"{prefix}-deadletters"
        self._index_names: dict[tuple[str, str], str] = {}
        self._ready = False
        self._dirty = False
        self._down_since: float | None = None

    @classmethod
    def from_url(cls, url: str, spool_dir: str | Path | None = None, **options: Any) -> ElasticsearchStore:
        """Open `elasticsearch://[user:password@]host:port` (`elasticsearchs://` for TLS).

        `options` are the fields of `ElasticsearchOptions`. The spool lives under `spool_dir` (default
        `./var/spool`, next to the embedded store), in a folder named after the server and prefix.
        """
        parts = urlsplit(url)
        scheme = {"elasticsearch": "http", "elasticsearchs": "https"}.get(parts.scheme)
        if scheme is None:
            raise StoreError(f"not an Elasticsearch store URL: {url!r} (use elasticsearch://host:port)")
        try:
            host, port = parts.hostname or "127.0.0.1", parts.port or 9200
        except ValueError as exc:
            raise StoreError(f"bad port in store URL {url!r}: {exc}") from exc
        settings = ElasticsearchOptions(**options)
        auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        client = Elasticsearch(
            f"{scheme}://{host}:{port}",
            basic_auth=auth,
            request_timeout=settings.request_timeout,
            max_retries=0,
            retry_on_timeout=False,
            serializers={  # orjson for answers too: exports and searches decode whole pages of documents
                "application/json": OrjsonSerializer(),
                "application/vnd.elasticsearch+json": OrjsonSerializer(),
            },
            ca_certs=settings.ca_certs or DEFAULT,
            verify_certs=settings.verify_certs,
        )
        # One spool per server and prefix: events queued for one cluster never leak into another.
        spool = Path(spool_dir or Path("var", "spool")) / f"elasticsearch-{host}-{port}-{settings.prefix}"
        name = f"{parts.scheme}://{host}:{port}"
        return cls(name, client, spool, settings)

    # -- writing ---------------------------------------------------------------------------------------

    def index_name(self, dataset: str, timestamp: str) -> str:
        """The monthly index of an event: `{prefix}-events-{dataset}-{YYYY.MM}`."""
        key = (dataset, timestamp[:7])
        name = self._index_names.get(key)
        if name is None:
            month = f"{timestamp[:4]}.{timestamp[5:7]}"
            name = self._index_names[key] = f"{self.options.prefix}-events-{_index_part(dataset)}-{month}"
        return name

    def _item(self, event: Event) -> Item:
        hidden = {"id": event.id, "ts": event.timestamp, "dataset": event.dataset,
                  "text": _text_tokens(event.message)}
        # The document's JSON with the hidden object appended: no decode and re-encode of the document.
        body = f'{event.json[:-1]},"{HIDDEN}":'.encode() + orjson.dumps(hidden) + b"}"
        return Item(self.index_name(event.dataset, event.timestamp), event.id, body)

    def write(self, events: Sequence[Event]) -> WriteResult:
        return self._submit([self._item(e) for e in events])

    def reject(self, letters: Sequence[DeadLetter]) -> int:
        items = [
            Item(
                self.deadletter_index,
                d.id,
                orjson.dumps(
                    {
                        "id": d.id,
                        "source": d.source,
                        "offset": d.offset,
                        "format": d.format,
                        "reason": d.reason,
                        "raw": base64.b64encode(d.raw).decode("ascii"),
                        "text": decode(d.raw),
                        "received": d.received,
                    }
                ),
            )
            for d in letters
        ]
        result = self._submit(items)
        return result.stored + result.spooled

    def _submit(self, items: list[Item]) -> WriteResult:
        """Deliver now if nothing older waits in the spool, else queue behind it (order is kept)."""
        if not items:
            return WriteResult()
        if len(self.spool) and not self._drain(patient=False):
            self.spool.append(items)
            return WriteResult(spooled=len(items))
        attempts = 1 + self.options.retries if self._down_since is None else 1
        delivery = _Delivery()
        try:
            self._deliver(items, delivery, attempts)
        except _Unreachable as exc:
            self._went_down(exc)
            self.spool.append(exc.pending)
            return WriteResult(delivery.stored, delivery.duplicates, len(exc.pending))
        finally:
            self._keep_refused(delivery)
        return WriteResult(delivery.stored, delivery.duplicates)

    def _drain(self, patient: bool) -> bool:
        """Deliver the spool oldest first; True when it is empty.

        Impatient drains (from `write`) try at most once per `reconnect_interval` and without retries,
        so ingest keeps its pace while the server is away.
        """
        recently_down = (
            self._down_since is not None
            and time.monotonic() - self._down_since < self.options.reconnect_interval
        )
        if recently_down and not patient:
            return False
        attempts = 1 + self.options.retries if patient else 1
        while batch := self.spool.head(self.options.bulk_docs):
            delivery = _Delivery()
            try:
                self._deliver(batch, delivery, attempts)
            except _Unreachable as exc:
                self._went_down(exc)
                pending = {item.seq for item in exc.pending}
                self.spool.remove([item for item in batch if item.seq not in pending])
                return False
            finally:
                self._keep_refused(delivery)
            self.spool.remove(batch)
        return True

    def _went_down(self, exc: _Unreachable) -> None:
        if self._down_since is None:
            log.warning(
                "Elasticsearch at %s is unreachable (%s); spooling to %s", self.url, exc, self.spool.path
            )
        self._down_since = time.monotonic()

    def _deliver(self, items: list[Item], delivery: _Delivery, attempts: int) -> None:
        """Send `items` in bulk chunks, in order; raises _Unreachable with everything not yet taken."""
        try:
            self._ensure_ready(attempts)
        except _Unreachable as exc:
            raise _Unreachable(list(items), str(exc)) from None
        start = 0
        while start < len(items):
            end, size = start, 0
            while end < len(items) and end - start < self.options.bulk_docs:
                size += len(items[end].body)
                end += 1
                if size >= self.options.bulk_bytes:
                    break
            try:
                self._send(items[start:end], delivery, attempts)
            except _Unreachable as exc:
                raise _Unreachable(exc.pending + items[end:], str(exc)) from None
            start = end
        self._down_since = None

    def _send(self, chunk: list[Item], delivery: _Delivery, attempts: int) -> None:
        pending, reason = chunk, ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.options.backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2))
            try:
                response = self._bulk(pending)
            except (TransportConnectionError, ConnectionTimeout) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                continue
            except ApiError as exc:
                if exc.meta.status not in _RETRYABLE_STATUS:
                    raise StoreError(f"Elasticsearch at {self.url} refused a bulk request: {exc}") from exc
                reason = f"HTTP {exc.meta.status}"
                continue
            self._dirty = True
            retry: list[Item] = []
            for item, outcome in zip(pending, response["items"], strict=True):
                status, error = next(iter(outcome.values())).get("status"), None
                if status == 201:
                    delivery.stored += 1
                elif status == 409:
                    delivery.duplicates += 1
                elif status in _RETRYABLE_STATUS:
                    retry.append(item)
                    reason = f"HTTP {status}"
                else:
                    error = next(iter(outcome.values())).get("error") or {}
                    delivery.refused.append((item, f"{error.get('type')}: {error.get('reason')}"))
            if not retry:
                return
            pending = retry
        raise _Unreachable(pending, reason)

    def _bulk(self, chunk: Sequence[Item]) -> Any:
        lines: list[bytes] = []
        dumps = orjson.dumps
        for item in chunk:
            lines.append(b'{"create":{"_index":%b,"_id":%b}}' % (dumps(item.target), dumps(item.id)))
            lines.append(item.body)
        lines.append(b"")
        return self.client.perform_request(
            "POST",
            "/_bulk",
            params={"filter_path": "items.*.status,items.*.error.type,items.*.error.reason"},
            headers={"accept": "application/json", "content-type": "application/x-ndjson"},
            body=b"\n".join(lines),
        ).body

    def _keep_refused(self, delivery: _Delivery) -> None:
        """Documents Elasticsearch will never take (a mapping conflict) become dead letters, not losses."""
        if not delivery.refused:
            return
        log.warning("Elasticsearch refused %d documents; kept as dead letters", len(delivery.refused))
        letters = [
            DeadLetter(item.id, f"{self.url}/{item.target}", 0, "elasticsearch", reason, item.body)
            for item, reason in delivery.refused
            if item.target != self.deadletter_index
        ]
        delivery.refused = []
        self.reject(letters)

    def _ensure_ready(self, attempts: int) -> None:
        """Install the index template and the dead-letter index once per process (both idempotent)."""
        if self._ready:
            return
        template, reason = ecs_template(), ""
        template["settings"]["refresh_interval"] = self.options.refresh_interval
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.options.backoff * 2 ** (attempt - 1))
            try:
                self.client.indices.put_index_template(
                    name=f"{self.options.prefix}-events",
                    index_patterns=[self.events_pattern],
                    priority=200,
                    template=template,
                    meta={"managed_by": "egovops"},
                )
                if not self.client.indices.exists(index=self.deadletter_index):
                    self.client.indices.create(
                        index=self.deadletter_index,
                        settings={"number_of_shards": 1, "number_of_replicas": 0},
                        mappings=_DEADLETTER_MAPPINGS,
                    )
            except (TransportConnectionError, ConnectionTimeout) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                continue
            except ApiError as exc:
                if exc.meta.status == 400 and "already_exists" in str(exc):
                    pass
                elif exc.meta.status in _RETRYABLE_STATUS:
                    reason = f"HTTP {exc.meta.status}"
                    continue
                else:
                    raise StoreError(f"cannot set up indices on Elasticsearch at {self.url}: {exc}") from exc
            self._ready = True
            return
        raise _Unreachable([], reason)

    def flush(self) -> None:
        """Deliver the spool (with retries) and make everything written visible to searches."""
        if len(self.spool) and not self._drain(patient=True):
            log.warning(
                "%d events stay spooled in %s until Elasticsearch returns", len(self.spool), self.spool.path
            )
            return
        self._refresh()

    def _refresh(self) -> None:
        if self._dirty:
            self._call(
                self.client.indices.refresh,
                index=[self.events_pattern, self.deadletter_index],
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            self._dirty = False

    # -- reading ---------------------------------------------------------------------------------------

    def _call(self, method: Any, **kwargs: Any) -> Any:
        """Run a read or admin request; an unreachable server becomes a StoreError that says so."""
        try:
            return method(**kwargs).body
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise StoreError(f"Elasticsearch at {self.url} is unreachable: {exc}") from exc
        except ApiError as exc:
            raise StoreError(f"Elasticsearch at {self.url} failed: {exc}") from exc

    def _query(self, query: Query) -> dict[str, Any]:
        filters: list[dict[str, Any]] = []
        if query.since is not None or query.until is not None:
            bounds: dict[str, str] = {}
            if query.since is not None:
                bounds["gte"] = format_ts(query.since)
            if query.until is not None:
                bounds["lt"] = format_ts(query.until)
            filters.append({"range": {f"{HIDDEN}.ts": bounds}})
        if query.datasets:
            filters.append({"terms": {f"{HIDDEN}.dataset": list(query.datasets)}})
        filters.extend(self._field_clause(name, value) for name, value in query.fields.items())
        filters.extend({"term": {f"{HIDDEN}.text": word}} for word in tokens(query.text))
        return {"bool": {"filter": filters}}

    def _field_clause(self, name: str, value: str) -> dict[str, Any]:
        """`name = value` for each mapping type the field has across the event indices."""
        caps = self._call(
            self.client.field_caps,
            index=self.events_pattern,
            fields=name,
            ignore_unavailable=True,
            allow_no_indices=True,
        )["fields"].get(name, {})
        clauses: list[dict[str, Any]] = []
        for kind, cap in caps.items():
            if kind in ("object", "nested"):
                continue
            if not cap.get("searchable", False):
                raise StoreError(
                    f"field {name} is kept for display but not indexed on Elasticsearch; "
                    "search its text instead"
                )
            term = _typed_term(name, kind, value)
            if term is None:
                continue
            indices = cap.get("indices")
            if indices is not None:
                term = {"bool": {"filter": [term, {"terms": {"_index": indices}}]}}
            clauses.append(term)
        if not clauses:
            return {"match_none": {}}
        return {"bool": {"should": clauses, "minimum_should_match": 1}}

    def _hits(self, query: Query, ascending: bool) -> Iterator[dict[str, Any]]:
        """Matching hits in (ts, id) order, paged with search_after so there is no result-window limit."""
        self._refresh()
        order = "asc" if ascending else "desc"
        sort = [{f"{HIDDEN}.ts": order}, {f"{HIDDEN}.id": order}]
        body = self._query(query)
        page = min(query.limit, _PAGE) if query.limit is not None else _PAGE
        after: list[Any] | None = None
        while page:
            response = self._call(
                self.client.search,
                index=self.events_pattern,
                query=body,
                sort=sort,
                size=page,
                search_after=after,
                track_total_hits=False,
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            hits = response["hits"]["hits"]
            yield from hits
            if len(hits) < page:
                return
            after = hits[-1]["sort"]

    def search(self, query: Query) -> list[Doc]:
        hits = self._hits(query, ascending=not query.newest_first)
        return [_document(hit) for hit in islice(hits, query.limit)]

    def get(self, ids: Sequence[str]) -> dict[str, Doc]:
        """By `_id` (the event id) across the dated indices, which `mget` cannot span."""
        self._refresh()
        found: dict[str, Doc] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 1000):
            chunk = unique[start : start + 1000]
            response = self._call(
                self.client.search,
                index=self.events_pattern,
                query={"ids": {"values": chunk}},
                size=len(chunk),
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            for hit in response["hits"]["hits"]:
                found[hit["_id"]] = _document(hit)
        return found

    def count(self, query: Query) -> int:
        self._refresh()
        response = self._call(
            self.client.count,
            index=self.events_pattern,
            query=self._query(query),
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        return int(response["count"])

    def export(self, query: Query | None = None) -> Iterator[Doc]:
        for hit in self._hits(query or Query(limit=None), ascending=True):
            yield _document(hit)

    def _composite(self, index: str, sources: list[dict[str, Any]], query: dict[str, Any]) -> Iterator[Any]:
        """Every bucket of a composite aggregation, page by page."""
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": 1000, "sources": sources}
            if after is not None:
                composite["after"] = after
            response = self._call(
                self.client.search,
                index=index,
                size=0,
                query=query,
                aggregations={"groups": {"composite": composite}},
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            groups = (response.get("aggregations") or {}).get("groups")
            if not groups or not groups["buckets"]:
                return
            yield from groups["buckets"]
            after = groups.get("after_key")
            if after is None:
                return

    def stats(self) -> Stats:
        try:
            return self._stats()
        except StoreError as exc:
            spool = self.spool.size()
            raise StoreError(
                f"{exc}; {spool.events} events ({spool.bytes} bytes) are spooled in {self.spool.path}"
                + (f" since {spool.oldest}" if spool.oldest else "")
            ) from exc

    def _stats(self) -> Stats:
        self._refresh()
        day = {"date_histogram": {"field": f"{HIDDEN}.ts", "calendar_interval": "1d", "format": "yyyy-MM-dd"}}
        per_day: dict[str, dict[str, int]] = {}
        per_dataset: dict[str, int] = {}
        sources = [{"day": day}, {"dataset": {"terms": {"field": f"{HIDDEN}.dataset"}}}]
        for bucket in self._composite(self.events_pattern, sources, {"match_all": {}}):
            name, n = bucket["key"]["dataset"], bucket["doc_count"]
            per_day.setdefault(bucket["key"]["day"], {})[name] = n
            per_dataset[name] = per_dataset.get(name, 0) + n
        dead = self._call(
            self.client.count, index=self.deadletter_index, ignore_unavailable=True, allow_no_indices=True
        )["count"]
        spool = self.spool.size()
        return Stats(
            total=sum(per_dataset.values()),
            per_dataset=dict(sorted(per_dataset.items())),
            per_day=per_day,
            dead_letters=int(dead),
            spool_events=spool.events,
            spool_bytes=spool.bytes,
            spool_oldest=spool.oldest,
        )

    def prune(self, retention: Retention, now: datetime | None = None) -> dict[str, int]:
        """Drop monthly indices wholly older than the cutoff; delete the older part of the boundary month."""
        now = now or utc_now()
        self._refresh()
        contents: dict[str, dict[str, int]] = {}
        sources = [
            {"index": {"terms": {"field": "_index"}}},
            {"dataset": {"terms": {"field": f"{HIDDEN}.dataset"}}},
        ]
        for bucket in self._composite(self.events_pattern, sources, {"match_all": {}}):
            contents.setdefault(bucket["key"]["index"], {})[bucket["key"]["dataset"]] = bucket["doc_count"]
        deleted: dict[str, int] = {}
        for index, datasets in contents.items():
            month_end = _month_end(index)
            if month_end is None:
                continue
            cutoffs = {name: days_ago(retention.days(name), now) for name in datasets}
            if all(month_end <= cutoff for cutoff in cutoffs.values()):
                self._call(self.client.indices.delete, index=index)
                for name, n in datasets.items():
                    deleted[name] = deleted.get(name, 0) + n
                continue
            for name, cutoff in cutoffs.items():
                n = self._delete_older(index, name, cutoff)
                if n:
                    deleted[name] = deleted.get(name, 0) + n
        self._refresh()
        return deleted

    def _delete_older(self, index: str, dataset: str, cutoff: datetime) -> int:
        """Delete one dataset's documents older than `cutoff` from one index (no delete_by_query here)."""
        query = Query(until=cutoff, datasets=[dataset], limit=None)
        body = self._query(query)
        count = 0
        while True:
            response = self._call(
                self.client.search, index=index, query=body, size=_PAGE, source=False, track_total_hits=False
            )
            ids = [hit["_id"] for hit in response["hits"]["hits"]]
            if not ids:
                return count
            operations = [{"delete": {"_index": index, "_id": doc_id}} for doc_id in ids]
            result = self._call(self.client.bulk, operations=operations, refresh=True)
            count += sum(1 for item in result["items"] if item["delete"].get("result") == "deleted")

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        self._refresh()
        response = self._call(
            self.client.search,
            index=self.deadletter_index,
            size=limit,
            sort=[{"received": "desc"}, {"source": "asc"}, {"offset": "asc"}],
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        letters = []
        for hit in response["hits"]["hits"]:
            d = hit["_source"]
            raw = base64.b64decode(d["raw"])
            letters.append(
                DeadLetter(d["id"], d["source"], d["offset"], d["format"], d["reason"], raw, d["received"])
            )
        return letters

    # -- follower positions ----------------------------------------------------------------------------

    def checkpoint(self, key: str) -> Checkpoint | None:
        return self.spool.checkpoint(key)

    def save_checkpoint(self, key: str, checkpoint: Checkpoint) -> None:
        self.spool.save_checkpoint(key, checkpoint)

    def close(self) -> None:
        """Try once more to deliver the spool and publish writes, then release the client and the spool."""
        try:
            if len(self.spool):
                self._drain(patient=False)
            self._refresh()
        except StoreError as exc:
            log.warning("closing %s: %s", self.url, exc)
        finally:
            self.client.close()
            self.spool.close()


def _document(hit: dict[str, Any]) -> Doc:
    doc: Doc = hit["_source"]
    doc.pop(HIDDEN, None)
    return doc


def _month_end(index: str) -> datetime | None:
    """The first instant after the month an index covers, from its `YYYY.MM` suffix."""
    if index[-3:-2] != ".":
        return None
    try:
        year, month = int(index[-7:-3]), int(index[-2:])
        return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    except ValueError:
        return None


_DEADLETTER_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "source": {"type": "keyword"},
        "offset": {"type": "long"},
        "format": {"type": "keyword"},
        "reason": {"type": "keyword", "ignore_above": 8191},
        "raw": {"type": "binary"},
        "text": {"type": "keyword", "index": False, "doc_values": False},
        "received": {"type": "date_nanos"},
    },
}
