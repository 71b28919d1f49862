"""Follower positions kept in a SQLite database: the embedded store's own, or the spool's beside Elasticsearch
(positions must survive while a remote store is away)."""

from __future__ import annotations

import sqlite3

from secops.store.base import Checkpoint

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    inode       INTEGER NOT NULL,
    offset      INTEGER NOT NULL
);
"""


class CheckpointTable:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(SCHEMA)

    def get(self, key: str) -> Checkpoint | None:
        row = self.db.execute(
            "SELECT fingerprint, inode, offset FROM checkpoints WHERE key = ?", (key,)
        ).fetchone()
        return Checkpoint(*row) if row else None

    def save(self, key: str, checkpoint: Checkpoint) -> None:
        self.db.execute(
            "INSERT INTO checkpoints (key, fingerprint, inode, offset) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, "
            "inode = excluded.inode, offset = excluded.offset",
            (key, checkpoint.fingerprint, checkpoint.inode, checkpoint.offset),
        )
