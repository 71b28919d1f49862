"""The embedded store: one SQLite file in WAL mode, an FTS5 index for free text.

The event table is written with the standard library's sqlite3 rather than an ORM: it is the ingest hot
path (tens of thousands of rows a second) and its schema is four columns. Free text (`message`) is
indexed by an external-content FTS5 table written in the same transaction as the rows it indexes.

The same index also holds each row's addresses (the strings under members named `ip`) as `#` tokens
(`egovops_native.fts_texts`), so a filter on `source.ip` and the like finds its rows through the index
instead of reading every document newest first (1.7 µs a row: 170 ms for the 100,000 rows a rare address
needs among a million). Free-text queries cannot produce a `#` token. Files made before keep their
index as it was, and their field filters read the documents as before.

The FTS table keeps no per-row token counts (`columnsize=0`): they serve only ranking, which search does
not use, and writing them was a third of the index's cost per row. Files made before keep their table
as it was; both kinds answer the same queries. Its merge, leaf and in-memory batch sizes are set
once per file (`FTS_SETTINGS`).

Rows of the native EVE parser are written by a second connection in Rust (`egovops_native.SQLiteWriter`,
`write_native`) with the same statements, through the same SQLite library; see docs/store.md.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any

import egovops_native
import orjson

from secops.events import DeadLetter, Doc, Event, days_ago, format_ts, utc_now
from secops.store.base import (
    TOKEN_CHARS,
    Checkpoint,
    Query,
    Retention,
    Stats,
    Store,
    StoreError,
    WriteResult,
    tokens,
)
from secops.store.local import CheckpointTable, connect

WRITER_VARIABLE = "EGOVOPS_SQLITE_WRITER"
"""`python` makes the store write native rows through the standard library too (the reference path)."""
Row = tuple[str, str, str, str, str | None]
"""An event as the store takes it: id, @timestamp, dataset, document JSON, message (the native tuple)."""
_COLUMNS = itemgetter(0, 1, 2, 3)
_TEXT_OF = itemgetter(1)  # of an index entry (rowid, text)
_TEXT = "coalesce(json_extract({doc}, '$.message'), '')"
_FTS_TOKENCHARS = TOKEN_CHARS.replace("\\w", "_").replace("\\", "") + "#"
_ADDRESSES = (
    "(SELECT ' ' || group_concat(k, ' ') FROM (SELECT DISTINCT '#' || value AS k FROM json_tree(events.doc) "
    "WHERE type = 'text' AND (key = 'ip' OR (typeof(key) = 'integer' AND path GLOB '*.ip')) ORDER BY k))"
)
"""The address tokens of a row as `egovops_native.fts_texts` appends them (distinct, sorted by their
bytes): the view rebuilds them so pruned rows take exactly the tokens they were indexed with."""
_IDS_PER_QUERY = 500
"""Ids bound in one `IN (...)`: far under SQLite's limit of 32,766 variables."""
COMMON_TEXT = 2000
"""Free-text matches from which a limited search walks the time index instead of sorting every match:
sorting the 200,000 events of a common term among a million took 0.5-1.3 s, walking the index newest
first stops after a page (25 ms); a rare term is still found fastest by sorting its few matches."""

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    rowid   INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    ts      TEXT NOT NULL,
    dataset TEXT NOT NULL,
    doc     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE VIEW IF NOT EXISTS events_text AS SELECT rowid,
    CASE json_type(doc, '$.message') WHEN 'text' THEN json_extract(doc, '$.message') ELSE '' END
    || coalesce({_ADDRESSES}, '') AS text FROM events;
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(
    text, content='events_text', content_rowid='rowid', columnsize=0,
    tokenize="unicode61 remove_diacritics 0 tokenchars '{_FTS_TOKENCHARS}'"
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id       TEXT PRIMARY KEY,
    source   TEXT NOT NULL,
    offset   INTEGER NOT NULL,
    format   TEXT NOT NULL,
    reason   TEXT NOT NULL,
    raw      BLOB NOT NULL,
    received TEXT NOT NULL
);
"""


FTS_SETTINGS = (("automerge", 8), ("pgsz", 16000), ("hashsize", 8 << 20))


def fts_expression(text: str) -> str | None:
    """An FTS5 MATCH expression requiring every token of `text` (each quoted, so no operators leak)."""
    words = tokens(text)
    if not words:
        return None
    return " ".join(f'"{w}"' for w in words)


def where_clause(query: Query, *, addresses: bool = False) -> tuple[str, list[Any]]:
    """SQL conditions and parameters for a query; values are always bound, never spliced.

    With `addresses` (a file whose index holds the address tokens), filters on a member named `ip`
    look their candidates up in the index; the exact comparison still decides."""
    conditions: list[str] = []
    params: list[Any] = []
    if query.since is not None:
        conditions.append("ts >= ?")
        params.append(format_ts(query.since))
    if query.until is not None:
        conditions.append("ts < ?")
        params.append(format_ts(query.until))
    if query.datasets:
        conditions.append(f"dataset IN ({','.join('?' * len(query.datasets))})")
        params.extend(query.datasets)
    for name, value in query.fields.items():
        if not (addresses and address_phrase(name, value)) and (prefilter := _raw_pattern(value)):
            # the value as it must appear somewhere in the stored JSON text: a LIKE over the raw text
            # is three times cheaper than taking the document apart, so most rows never are
            conditions.append("doc LIKE ? ESCAPE '\\'")
            params.append(prefilter)
        conditions.append(
            "EXISTS (SELECT 1 FROM json_each(events.doc, ?) AS j WHERE "
            "CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            "ELSE CAST(j.value AS TEXT) END = ?)"
        )
        params.extend([json_path(name), value])
    match = index_match(query, addresses=addresses)
    if match is not None:
        conditions.append("rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)")
        params.append(match)
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", params


def index_match(query: Query, *, addresses: bool) -> str | None:
    """The FTS5 expression of a query's text and, with `addresses`, of its address filters (all ANDed)."""
    parts = [fts_expression(query.text)]
    if addresses:
        parts.extend(address_phrase(name, value) for name, value in query.fields.items())
    found = [part for part in parts if part]
    return " ".join(found) if found else None


def address_phrase(name: str, value: str) -> str | None:
    """The index phrase every row whose `name` equals `value` holds, when `name` is an `ip` member and
    `value` can only equal a string (a number or true/false may be stored as one, without a token)."""
    if name.rsplit(".", 1)[-1] != "ip" or value in ("true", "false") or _is_number(value):
        return None
    return '"#' + value.replace('"', '""') + '"'


def _raw_pattern(value: str) -> str | None:
    """A LIKE pattern the raw document must match for `value` to be in it, or None when its raw form
    cannot be predicted: JSON escapes quotes, backslashes and control characters, and writes a
    fractional number its own way (`1e3` is stored as 1000.0)."""
    if not value or any(c in value for c in '"\\') or any(ord(c) < 0x20 for c in value):
        return None
    if not value.strip().lstrip("+-").isdigit() and _is_number(value):
        return None
    return "%" + value.replace("%", "\\%").replace("_", "\\_") + "%"


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def json_path(field: str) -> str:
    """A JSON path for a dotted ECS name, each segment quoted so `@timestamp` and odd names work."""
    return "$" + "".join('."' + part.replace('"', '""') + '"' for part in field.split("."))


class SQLiteStore(Store):
    rows_per_write = 10_000
    """Rows the ingest sink hands `write_rows` at once (one transaction) when `ingest.batch_size`, which
    sizes Elasticsearch bulk requests and detection's batches, is smaller. With the index's 8 MiB of
    pending entries (`FTS_SETTINGS`) a transaction makes one index segment, so fewer merges: at 60,000
    EVE rows 40,400 -> 33,300 instructions a row inside SQLite against 2,000 rows a transaction (about
    1 µs a row in time). A crash loses no more: rows count as stored only once committed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.db = connect(self.path, SCHEMA, synchronous="NORMAL", what="SQLite store")
        self.positions = CheckpointTable(self.db)
        tuned = {name for (name,) in self.db.execute("SELECT k FROM events_fts_config")}
        if missing := [setting for setting in FTS_SETTINGS if setting[0] not in tuned]:
            self._tune_fts(missing)
        fts = self.db.execute("SELECT sql FROM sqlite_master WHERE name = 'events_fts'").fetchone()[0]
        self.addresses = "#" in fts
        """Whether this file's index holds the address tokens (files made before do not)."""
        built = hasattr(egovops_native, "SQLiteWriter")  # not in a crate built before the writer
        self._writes_natively = built and os.environ.get(WRITER_VARIABLE, "native") != "python"

    @cached_property
    def writer(self) -> egovops_native.SQLiteWriter | None:
        """The native parsers' writer (`write_native`), or None when rows go through `write_rows`:
        a second connection, in Rust, for the rows the native parsers keep in Rust, opened at its
        first use (a store that only reads never opens it).

        Binding five Python objects per row twice (the row, its FTS entry) and making them at all cost
        about a fifth of a row's write; the writer inserts the same rows with the same statements. It
        calls the system's SQLite, the library `_sqlite3` is linked to (one copy in the process, so the
        two connections share its file locks), and opens the file only after this connection made and
        tuned it; this connection holds no transaction while the writer writes.
        """
        if not self._writes_natively:
            return None
        try:
            return egovops_native.SQLiteWriter(str(self.path))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite store at {self.path} for writing: {exc}") from exc

    def _tune_fts(self, settings: Sequence[tuple[str, int]]) -> None:
        """Merge the index's segments eight at a time, write them in leaves of a 16 KiB page, and keep
        up to 8 MiB of new entries in memory before writing a segment.

        FTS5 merges four segments of a level by default, in 4 KB leaves: at 60,000 EVE rows the two
        settings took 2,000 instructions each off the 36,800 of a row. It writes a segment at every
        commit and whenever its 1 MiB of pending entries fills: with `rows_per_write` rows a
        transaction, 1 MiB cut each transaction in several small segments, which merges then rewrote
        (8 MiB: one segment a transaction, 38,970 -> 33,300 instructions a row inside SQLite). The
        settings are kept in the file (its `events_fts_config`), so each is set once, when the store
        first opens a file without it; searches read up to eight segments a level instead of four.
        """
        with self._transaction() as cur:
            for name, value in settings:
                cur.execute("INSERT INTO events_fts (events_fts, rank) VALUES (?, ?)", (name, value))

    # -- writing ---------------------------------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> WriteResult:
        return self.write_rows([(e.id, e.timestamp, e.dataset, e.json, e.message) for e in events])

    def write_rows(self, rows: Sequence[Row]) -> WriteResult:
        """Insert the new rows and their free-text entries in one transaction.

        Rows come as the native parsers hand them over, so ingest makes no `Event` per row. The unique
        index on `id` drops what is already stored (`OR IGNORE`); new rows take the row ids after the
        largest, in order, so when none was dropped the FTS entries follow without asking which were
        new, and go in as one batch (an FTS trigger costs several times more per row).
        """
        if not rows:
            return WriteResult()
        with self._transaction() as cur:
            last = cur.execute("SELECT max(rowid) FROM events").fetchone()[0] or 0
            cur.executemany(
                "INSERT OR IGNORE INTO events (id, ts, dataset, doc) VALUES (?, ?, ?, ?)", map(_COLUMNS, rows)
            )
            stored = cur.rowcount
            entries = egovops_native.fts_texts(rows) if self.addresses else [row[4] for row in rows]
            texts: Iterable[tuple[int, str | None]]
            if stored == len(rows):
                texts = filter(_TEXT_OF, zip(itertools.count(last + 1), entries))  # no tuple made in Python
            else:
                texts = _new_texts(cur, last, rows, entries)
            cur.executemany("INSERT INTO events_fts (rowid, text) VALUES (?, ?)", texts)
        return WriteResult(stored=stored, duplicates=len(rows) - stored)

    def write_native(self, batches: Sequence[egovops_native.Rows]) -> WriteResult:
        """Store the rows native parsers kept in Rust (`feed_rows`) in one transaction, as `write_rows`
        does (`SQLiteWriter.write`: each stored row's FTS entry by the row id it got). Takes the rows:
        the batches are empty afterwards."""
        if self.writer is None:
            return self.write_rows([row for rows in batches for row in rows.tuples()])
        stored, duplicates = self.writer.write(list(batches), self.addresses)
        return WriteResult(stored=stored, duplicates=duplicates)

    def reject(self, letters: Sequence[DeadLetter]) -> int:
        if not letters:
            return 0
        rows = [(d.id, d.source, d.offset, d.format, d.reason, d.raw, d.received) for d in letters]
        with self._transaction() as cur:
            cur.executemany("INSERT OR IGNORE INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            return cur.rowcount

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)

    # -- reading ---------------------------------------------------------------------------------------

    def search(self, query: Query) -> list[Doc]:
        where, params = where_clause(query, addresses=self.addresses)
        order = "DESC" if query.newest_first else "ASC"
        common = query.limit is not None and self._common(index_match(query, addresses=self.addresses))
        walk = " INDEXED BY events_ts" if common else ""
        sql = f"SELECT doc FROM events{walk}{where} ORDER BY ts {order}, id {order}"
        if query.limit is not None:
            sql += " LIMIT ?"
            params.append(query.limit)
        return [orjson.loads(row[0]) for row in self.db.execute(sql, params)]

    def _common(self, match: str | None) -> bool:
        """Whether the index expression matches at least `COMMON_TEXT` events (counted no further)."""
        if match is None:
            return False
        sql = "SELECT count(*) FROM (SELECT 1 FROM events_fts WHERE events_fts MATCH ? LIMIT ?)"
        return int(self.db.execute(sql, (match, COMMON_TEXT)).fetchone()[0]) >= COMMON_TEXT

    def get(self, ids: Sequence[str]) -> dict[str, Doc]:
        found: dict[str, Doc] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _IDS_PER_QUERY):
            chunk = unique[start : start + _IDS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            for event_id, doc in self.db.execute(f"SELECT id, doc FROM events WHERE id IN ({marks})", chunk):
                found[event_id] = orjson.loads(doc)
        return found

    def count(self, query: Query) -> int:
        match = fts_expression(query.text)
        if match is not None and replace(query, text="", limit=None, newest_first=True) == Query(limit=None):
            # text alone: the index holds one entry per event with text, so its count is the answer
            # without looking each event up (11 ms instead of 127 for 28,000 of a million)
            sql = "SELECT count(*) FROM events_fts WHERE events_fts MATCH ?"
            return int(self.db.execute(sql, (match,)).fetchone()[0])
        where, params = where_clause(query, addresses=self.addresses)
        return int(self.db.execute(f"SELECT count(*) FROM events{where}", params).fetchone()[0])

    def export(self, query: Query | None = None) -> Iterator[Doc]:
        where, params = where_clause(query or Query(limit=None), addresses=self.addresses)
        cursor = self.db.cursor()
        cursor.execute(f"SELECT doc FROM events{where} ORDER BY ts, id", params)
        while rows := cursor.fetchmany(5000):
            for row in rows:
                yield orjson.loads(row[0])

    def stats(self) -> Stats:
        per_dataset = dict(self.db.execute("SELECT dataset, count(*) FROM events GROUP BY dataset"))
        per_day: dict[str, dict[str, int]] = {}
        for day, dataset, n in self.db.execute(
            "SELECT substr(ts, 1, 10), dataset, count(*) FROM events GROUP BY 1, 2 ORDER BY 1, 2"
        ):
            per_day.setdefault(day, {})[dataset] = n
        dead = self.db.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
        return Stats(sum(per_dataset.values()), per_dataset, per_day, dead)

    def prune(self, retention: Retention, now: datetime | None = None) -> dict[str, int]:
        now = now or utc_now()
        deleted: dict[str, int] = {}
        datasets = [row[0] for row in self.db.execute("SELECT DISTINCT dataset FROM events")]
        with self._transaction() as cur:
            for dataset in datasets:
                cutoff = format_ts(days_ago(retention.days(dataset), now))
                expired = "FROM events WHERE dataset = ? AND ts < ?"
                cur.execute(self._unindex.format(expired=expired), (dataset, cutoff))
                cur.execute(f"DELETE {expired}", (dataset, cutoff))
                if cur.rowcount:
                    deleted[dataset] = cur.rowcount
        return deleted

    @property
    def _unindex(self) -> str:
        """The statement taking expired rows (`{expired}`) out of the index, with the tokens they went
        in with: files made before indexed the message alone."""
        delete = "INSERT INTO events_fts (events_fts, rowid, text) SELECT 'delete', rowid"
        if self.addresses:
            return delete + ", text FROM events_text WHERE rowid IN (SELECT rowid {expired}) AND text != ''"
        message = _TEXT.format(doc="doc")
        return delete + f", {message} " + "{expired} AND json_extract(doc, '$.message') IS NOT NULL"

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self.db.execute(
            "SELECT id, source, offset, format, reason, raw, received FROM dead_letters "
            "ORDER BY received DESC, source, offset LIMIT ?",
            (limit,),
        )
        return [DeadLetter(*row) for row in rows]

    # -- follower positions ----------------------------------------------------------------------------

    def checkpoint(self, key: str) -> Checkpoint | None:
        return self.positions.get(key)

    def save_checkpoint(self, key: str, checkpoint: Checkpoint) -> None:
        self.positions.save(key, checkpoint)

    def close(self) -> None:
        if (writer := self.__dict__.get("writer")) is not None:  # opened
            writer.close()
        self.db.close()


def _new_texts(
    cur: sqlite3.Cursor, last: int, rows: Sequence[Row], entries: Sequence[str | None]
) -> list[tuple[int, str]]:
    """The FTS entries of the rows a batch with duplicates did store, by the row id each one got."""
    new = dict(cur.execute("SELECT id, rowid FROM events WHERE rowid > ?", (last,)))
    texts = []
    for row, text in zip(rows, entries, strict=True):
        rowid = new.pop(row[0], None)  # popped: a second copy in the same batch was not stored
        if rowid is not None and text:
            texts.append((rowid, text))
    return texts


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Cursor:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db.cursor()

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
