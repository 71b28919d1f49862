"""Follow mode across growth, partial lines, rotation, truncation and restarts."""

from __future__ import annotations

import os
from pathlib import Path

from secops.ingest.follow import Follower
from secops.ingest.pipeline import Ingestor
from secops.store.base import Query
from secops.store.sqlite import SQLiteStore
from tests.ingest.helpers import eve_alert, write_lines


def stored_flow_ids(store: SQLiteStore) -> list[int]:
    return sorted(doc["suricata"]["eve"]["flow_id"] for doc in store.search(Query(limit=None)))


def test_follow_across_growth_rotation_truncation_and_restart(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "events.db")
    log = tmp_path / "eve.json"
    write_lines(log, [eve_alert(n) for n in range(10)])
    follower = Follower(Ingestor(store), [log], idle_flush=60)

    follower.poll_once()
    assert len(stored_flow_ids(store)) == 10

    # Growth, with a last line the writer has not finished yet.
    write_lines(log, [eve_alert(n) for n in range(10, 15)], mode="a")
    with log.open("a") as handle:
        handle.write(eve_alert(15)[:40])
    follower.poll_once()
    assert len(stored_flow_ids(store)) == 15
    with log.open("a") as handle:
        handle.write(eve_alert(15)[40:] + "\n")
    follower.poll_once()
    assert len(stored_flow_ids(store)) == 16

    # Rotation: the writer still appends to the renamed file before reopening a new one.
    rotated = tmp_path / "eve.json.1"
    os.rename(log, rotated)
    write_lines(rotated, [eve_alert(n) for n in range(16, 19)], mode="a")
    write_lines(log, [eve_alert(n) for n in range(100, 104)])
    follower.poll_once()
    assert stored_flow_ids(store) == [1_000_000 + n for n in [*range(19), *range(100, 104)]]

    # copytruncate: same inode, emptied, written again from the start.
    with log.open("w") as handle:
        handle.write(eve_alert(200) + "\n" + eve_alert(201) + "\n")
    follower.poll_once()
    assert len(stored_flow_ids(store)) == 25
    follower.close()

    # A restart resumes from the checkpoint: nothing is read twice, new lines are read.
    restarted = Follower(Ingestor(store), [log], idle_flush=60)
    restarted.poll_once()
    assert restarted.report.accepted == 0 and restarted.report.duplicates == 0
    write_lines(log, [eve_alert(202)], mode="a")
    restarted.poll_once()
    assert restarted.report.accepted == 1
    assert len(stored_flow_ids(store)) == 26
    restarted.close()


def test_a_directory_is_followed_and_new_files_are_picked_up(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "events.db")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    follower = Follower(Ingestor(store), [inbox], idle_flush=60)
    follower.poll_once()

    write_lines(inbox / "sensor-a.json", [eve_alert(n) for n in range(3)])
    follower.poll_once()
    write_lines(inbox / "sensor-b.json", [eve_alert(n) for n in range(3, 8)])
    write_lines(inbox / ".partial.json", [eve_alert(99)])
    follower.poll_once()

    assert stored_flow_ids(store) == [1_000_000 + n for n in range(8)]
    follower.close()


def test_unread_bytes_are_what_the_writers_added_since_the_last_round(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "events.db")
    log = tmp_path / "eve.json"
    write_lines(log, [eve_alert(n) for n in range(3)])
    follower = Follower(Ingestor(store), [log], idle_flush=60)
    follower.poll_once()
    assert follower.unread_bytes() == {"suricata.eve": 0}
    before = log.stat().st_size
    write_lines(log, [eve_alert(n) for n in range(3, 8)], mode="a")
    assert follower.unread_bytes() == {"suricata.eve": log.stat().st_size - before}
    follower.poll_once()
    assert follower.unread_bytes() == {"suricata.eve": 0}
    follower.close()
