"""One store interface, several backends with the same query semantics.

Free text: the query is cut into tokens (runs of letters, digits and `._:/@-`, lower-cased) and an event
matches when every token occurs among the tokens of its `message` — the summary every source writes
with the values people search for (names, addresses, URLs, signatures). Indexing whole raw records
would cost several times the rest of ingest; any field is still searchable exactly with `k=v`. Fields: `k=v`
matches when the dotted ECS field `k` (or any element of it, for lists) equals `v` exactly, compared as
text. Both backends implement exactly this, so a search gives the same events wherever they are stored.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from secops.events import DeadLetter, Doc, Event

TOKEN_CHARS = r"\w.:/@\-"
TOKEN = re.compile(f"[{TOKEN_CHARS}]+")


def tokens(text: str) -> list[str]:
    """Free-text tokens, as both backends index them (underscore is a token character too)."""
    return [t.lower() for t in TOKEN.findall(text)]


@dataclass(slots=True)
class Query:
    text: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None
    datasets: Sequence[str] = ()
    limit: int | None = 100
    newest_first: bool = True


@dataclass(slots=True)
class WriteResult:
    stored: int = 0
    duplicates: int = 0
    spooled: int = 0

    def add(self, other: WriteResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.spooled += other.spooled


@dataclass(slots=True)
class Checkpoint:
    """Where a followed file was left: which file (fingerprint, inode) and how far (offset)."""

    fingerprint: str
    inode: int
    offset: int


@dataclass(slots=True)
class Stats:
    total: int
    per_dataset: dict[str, int]
    per_day: dict[str, dict[str, int]]
    dead_letters: int
    spool_events: int = 0
    spool_bytes: int = 0
    spool_oldest: str | None = None


@dataclass(slots=True)
class Retention:
    """Days to keep per dataset; the default is the Cybersecurity Law's floor of 180 days."""

    default_days: int = 180
    datasets: dict[str, int] = field(default_factory=dict)

    def days(self, dataset: str) -> int:
        return self.datasets.get(dataset, self.default_days)


class StoreError(RuntimeError):
    """A store could not be opened or used; the message says which and what to do."""


class Store(ABC):
    url: str

    @abstractmethod
    def write(self, events: Sequence[Event]) -> WriteResult:
        """Store events once each: an id already stored counts as a duplicate, not an error."""

    @abstractmethod
    def reject(self, letters: Sequence[DeadLetter]) -> int:
        """Keep input that could not be parsed; returns how many were new."""

    @abstractmethod
    def search(self, query: Query) -> list[Doc]: ...

    @abstractmethod
    def get(self, ids: Sequence[str]) -> dict[str, Doc]:
        """The stored documents with these event ids, by id (ids the store does not have are left out):
        one indexed lookup, for evidence and incident pages that name their events."""

    @abstractmethod
    def count(self, query: Query) -> int: ...

    @abstractmethod
    def export(self, query: Query | None = None) -> Iterator[Doc]:
        """Every matching document, oldest first, without a limit."""

    @abstractmethod
    def stats(self) -> Stats: ...

    @abstractmethod
    def prune(self, retention: Retention, now: datetime | None = None) -> dict[str, int]:
        """Delete events older than their dataset's retention; returns deletions per dataset."""

    @abstractmethod
    def dead_letters(self, limit: int = 100) -> list[DeadLetter]: ...

    @abstractmethod
    def checkpoint(self, key: str) -> Checkpoint | None: ...

    @abstractmethod
    def save_checkpoint(self, key: str, checkpoint: Checkpoint) -> None: ...

    def flush(self) -> None:  # noqa: B027 - optional for backends that write through
        """Push anything buffered; a no-op where writes are immediate."""

    def close(self) -> None:  # noqa: B027
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
