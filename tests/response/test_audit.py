"""The audit trail: SM3 hash chain, and verify() naming the first record that was edited, deleted or moved."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
from cryptography.hazmat.primitives import hashes

from egovops.audit import GENESIS, AuditTrail, record_hash


def trail_of(path: Path, count: int) -> AuditTrail:
    trail = AuditTrail(path)
    for n in range(1, count + 1):
        trail.append(
            f"user{n}", "response.request", f"incident/{n}", {"action": n, "params": {"address": "10.0.0.1"}}
        )
    return trail


def sm3(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def test_records_chain_by_sm3(tmp_path: Path) -> None:
    trail = trail_of(tmp_path / "audit.log", 3)
    records = list(trail.records())
    result = trail.verify()

    assert [r.seq for r in records] == [1, 2, 3]
    assert [r.prev for r in records] == [GENESIS, records[0].hash, records[1].hash]
    body = {k: v for k, v in records[1].model_dump().items() if k != "hash"}
    assert records[1].hash == sm3(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    assert (records[1].actor, records[1].target, records[1].detail["action"]) == ("user2", "incident/2", 2)
    assert (result.ok, result.records, result.head, result.bad_line) == (True, 3, records[2].hash, None)


def test_an_edited_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    trail = trail_of(path, 4)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"user3"', b'"mallory"')
    path.write_bytes(b"".join(lines))

    result = trail.verify()

    assert (result.ok, result.bad_line, result.records) == (False, 3, 2)
    assert result.reason == "record 3: its content does not match its hash (edited)"


def test_a_deleted_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    trail = trail_of(path, 4)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:1] + lines[2:]))

    result = trail.verify()

    assert (result.ok, result.bad_line) == (False, 2)
    assert result.reason == "record 3: sequence 3 where 2 was due (records deleted or reordered)"


def test_reordered_records_are_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    trail = trail_of(path, 4)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    path.write_bytes(b"".join(lines))

    result = trail.verify()

    assert (result.ok, result.bad_line) == (False, 2)
    assert result.reason is not None and result.reason.startswith("record 3: sequence 3 where 2 was due")


def test_a_rehashed_edit_still_breaks_the_link(tmp_path: Path) -> None:
    """Recomputing the edited record's own hash does not help: the next record points at the old one."""
    path = tmp_path / "audit.log"
    trail = trail_of(path, 3)
    lines = path.read_bytes().splitlines(keepends=True)
    record = orjson.loads(lines[1])
    record["actor"] = "mallory"
    record["hash"] = record_hash(record)
    lines[1] = orjson.dumps(record) + b"\n"
    path.write_bytes(b"".join(lines))

    result = trail.verify()

    assert (result.ok, result.bad_line) == (False, 3)
    assert (
        result.reason == "record 3: it does not link to the record before it (records deleted or reordered)"
    )


def test_concurrent_appends_keep_one_chain(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.log")

    def write(who: str) -> None:
        for n in range(25):
            trail.append(who, "test", f"object/{n}", {"n": n})

    threads = [threading.Thread(target=write, args=(f"writer{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    result = trail.verify()
    assert (result.ok, result.records) == (True, 75)
    assert sorted(r.seq for r in trail.records()) == list(range(1, 76))
