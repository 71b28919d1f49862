"""A durable local queue for documents a remote store could not take yet, and the follower positions.

When Elasticsearch is unreachable the documents the pipeline accepted must not be lost, and they must
arrive in the order they were written once it returns. The spool is one SQLite file in WAL mode with
`synchronous=FULL` (an append survives power loss before `write` returns), ordered by an autoincrement
sequence. Follower checkpoints live in the same file because they must survive an outage of the remote
store: a follower that could not save its position there would re-read and re-send on every restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from secops.events import format_ts, utc_now
from secops.store.base import Checkpoint
from secops.store.local import CheckpointTable, connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    id     TEXT NOT NULL,
    body   BLOB NOT NULL,
    queued TEXT NOT NULL
);
"""


@dataclass(slots=True)
class Item:
    """One serialised document bound for `target` (an index name) under the id `id`."""

    target: str
    id: str
    body: bytes
    seq: int = 0


@dataclass(slots=True)
class SpoolSize:
    events: int
    bytes: int
    oldest: str | None


class Spool:
    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / "spool.db"
        self.db = connect(self.path, SCHEMA, synchronous="FULL", what="spool")
        self.positions = CheckpointTable(self.db)
        self._pending = self._count()

    def _count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def __len__(self) -> int:
        """Spooled documents; kept in memory so the ingest hot path does not query the file."""
        return self._pending

    def append(self, items: Sequence[Item]) -> None:
        if not items:
            return
        queued = format_ts(utc_now())
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT INTO spool (target, id, body, queued) VALUES (?, ?, ?, ?)",
                [(item.target, item.id, item.body, queued) for item in items],
            )
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        self._pending += len(items)

    def head(self, limit: int) -> list[Item]:
        """The oldest `limit` documents, in the order they were spooled."""
        rows = self.db.execute("SELECT target, id, body, seq FROM spool ORDER BY seq LIMIT ?", (limit,))
        return [Item(*row) for row in rows]

    def remove(self, items: Sequence[Item]) -> None:
        """Forget delivered documents (by sequence number, so a re-spooled id is not dropped by mistake)."""
        if not items:
            return
        cursor = self.db.executemany("DELETE FROM spool WHERE seq = ?", [(item.seq,) for item in items])
        self._pending -= cursor.rowcount

    def size(self) -> SpoolSize:
        events, size, oldest = self.db.execute(
            "SELECT count(*), coalesce(sum(length(body)), 0), min(queued) FROM spool"
        ).fetchone()
        return SpoolSize(int(events), int(size), oldest)

    # -- follower positions ----------------------------------------------------------------------------

    def checkpoint(self, key: str) -> Checkpoint | None:
        return self.positions.get(key)

    def save_checkpoint(self, key: str, checkpoint: Checkpoint) -> None:
        self.positions.save(key, checkpoint)

    def close(self) -> None:
        self.db.close()
