"""The audit trail: who did what to which object, append-only and hash-chained with SM3 (GB/T 32905).

Each record is one JSON line carrying its sequence number, the hash of the record before it and its own
hash over all of that, so editing, deleting or reordering any record breaks the chain at that record;
`verify()` names the first one that does not fit. The file is only ever appended to, under an exclusive
lock, so processes writing at once (CLI, API) keep one chain.

Changes made through the web also record where from (`detail.source`, the client address) and the object
`before` and `after` (`detail.before`, `detail.after`); the record's shape is unchanged, so older files
verify as they did.

A chain cannot show that its newest records were cut off; `verify()` reports the count and head hash,
which an external copy (a notification, a regulator's report) can be checked against.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from pydantic import BaseModel, ConfigDict, ValidationError

from secops.events import format_ts, utc_now

GENESIS = "0" * 64
"""The `prev` of the first record."""
TAIL_READ = 64 * 1024
"""Bytes read back from the end to find the last record; records are far smaller."""


class AuditError(ValueError):
    """The trail cannot be appended to: its last record is unreadable."""


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    at: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    prev: str
    hash: str


@dataclass(frozen=True)
class Verification:
    """The chain's state: `ok`, how many records, the head hash, or the first bad record and why."""

    ok: bool
    records: int
    head: str
    bad_line: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head": self.head,
            "bad_line": self.bad_line,
            "reason": self.reason,
        }


def record_hash(fields: dict[str, Any]) -> str:
    """SM3 over the record's canonical JSON (sorted keys, no spaces), `hash` itself left out."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(orjson.dumps({k: v for k, v in fields.items() if k != "hash"}, option=orjson.OPT_SORT_KEYS))
    return digest.finalize().hex()


class AuditTrail:
    """An audit trail in one JSON Lines file (created on first append)."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.path = path
        self.clock = clock

    def append(
        self, actor: str, action: str, target: str, detail: dict[str, Any], *,
        source: str | None = None, before: Any = None, after: Any = None,
    ) -> AuditRecord:
        """Add one record after the last one; `detail`, `before` and `after` must be JSON-serialisable."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            last = _last_record(file)
            fields: dict[str, Any] = {
                "seq": last.seq + 1 if last else 1,
                "at": format_ts(self.clock()),
                "actor": actor,
                "action": action,
                "target": target,
                "detail": orjson.loads(orjson.dumps({**detail, **_provenance(source, before, after)})),
                "prev": last.hash if last else GENESIS,
            }
            record = AuditRecord(**fields, hash=record_hash(fields))
            file.write(orjson.dumps(record.model_dump()) + b"\n")
            file.flush()
            os.fsync(file.fileno())
        return record

    def records(self) -> Iterator[AuditRecord]:
        """Every record, oldest first (as stored: `verify()` says whether to trust them)."""
        for _number, line in self._lines():
            yield AuditRecord.model_validate_json(line)

    def stored(self) -> int:
        """How many records the file holds, readable or not (`verify()` says how many fit the chain)."""
        return sum(1 for _ in self._lines())

    def verify(self) -> Verification:
        """Walk the chain; the first record whose content, sequence or link does not fit is named."""
        expected_seq, prev = 1, GENESIS
        for number, line in self._lines():
            try:
                record = AuditRecord.model_validate_json(line)
            except ValidationError:
                return Verification(False, expected_seq - 1, prev, number, "not a readable audit record")
            reason = None
            if record.hash != record_hash(record.model_dump()):
                reason = "its content does not match its hash (edited)"
            elif record.seq != expected_seq:
                reason = f"sequence {record.seq} where {expected_seq} was due (records deleted or reordered)"
            elif record.prev != prev:
                reason = "it does not link to the record before it (records deleted or reordered)"
            if reason:
                return Verification(False, expected_seq - 1, prev, number, f"record {record.seq}: {reason}")
            expected_seq, prev = expected_seq + 1, record.hash
        return Verification(True, expected_seq - 1, prev)

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as file:
            for number, line in enumerate(file, start=1):
                if line.strip():
                    yield number, line


def _provenance(source: str | None, before: Any, after: Any) -> dict[str, Any]:
    found: dict[str, Any] = {} if source is None else {"source": source}
    if before is not None or after is not None:
        found.update(before=before, after=after)
    return found


def _last_record(file: Any) -> AuditRecord | None:
    file.seek(0, os.SEEK_END)
    size = file.tell()
    if size == 0:
        return None
    file.seek(max(0, size - TAIL_READ))
    lines = [line for line in file.read().splitlines() if line.strip()]
    if not lines:
        return None
    try:
        return AuditRecord.model_validate_json(lines[-1])
    except ValidationError as exc:
        raise AuditError(
            f"{file.name}: the last audit record is unreadable, so nothing can be chained to it; "
            "check the trail with AuditTrail.verify() and restore the file from a copy"
        ) from exc
