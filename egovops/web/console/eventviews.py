"""Event pages: search through the store's query API (bound parameters, never built SQL), keyset pages,
and the store's figures reused for a while instead of grouping every event on each page view."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import typer

from egovops.cli.common import parse_fields, parse_when
from secops.events import Doc
from secops.store import Query, Store

PAGE_SIZE = 50
T = TypeVar("T")
STATS_TTL = 60.0
"""Seconds after which the figures are read again; `Store.stats()` groups every stored event (about 4 s
of CPU for a million events), so no page view should wait for it but the very first."""


class StatsCache(Generic[T]):
    """Figures kept for page views (`Store.stats()`, the dashboard's case figures): the first view reads
    them; later views get the last figures at once and, when they are older than `ttl`, start one
    reading in the background."""

    def __init__(self, read: Callable[[], T], ttl: float = STATS_TTL) -> None:
        self._read = read
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: tuple[float, T] | None = None
        self._refreshing = False

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = (time.monotonic(), self._read())
            elif time.monotonic() - self._value[0] > self._ttl and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="console-stats", daemon=True).start()
            return self._value[1]

    def _refresh(self) -> None:
        try:
            figures = self._read()
        finally:
            with self._lock:
                self._refreshing = False
        with self._lock:
            self._value = (time.monotonic(), figures)


@dataclass(frozen=True)
class SearchForm:
    """The search page's query parameters as typed: text, `name=value` fields, datasets, time range,
    and `before`, the timestamp the previous page ended at."""

    q: str = ""
    fields: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    since: str = ""
    until: str = ""
    before: str = ""


@dataclass(frozen=True)
class SearchResult:
    events: list[Doc]
    next_before: str | None
    error: str | None = None


def search_events(store: Store, form: SearchForm) -> SearchResult:
    """One page of matching events, newest first; the next page starts before the last one shown.

    Events sharing the boundary timestamp with the next page are shown on neither when a page ends
    inside such a run; narrow the time range to see all of a burst.
    """
    try:
        until = parse_when(form.until or None)
        before = parse_when(form.before or None)
        query = Query(
            text=form.q,
            fields=parse_fields([f for f in form.fields if f.strip()]),
            since=parse_when(form.since or None),
            until=min(t for t in (until, before) if t is not None) if until or before else None,
            datasets=tuple(d for d in form.datasets if d),
            limit=PAGE_SIZE + 1,
        )
    except typer.BadParameter as exc:
        return SearchResult([], None, exc.message)
    found = store.search(query)
    more = len(found) > PAGE_SIZE
    events = found[:PAGE_SIZE]
    return SearchResult(events, str(events[-1].get("@timestamp")) if more and events else None)
