"""Crash safety with real processes: `kill -9` at any moment, run again, same events as one clean run."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.ingest.helpers import EGOVOPS, eve_alert, run_cli


def stored_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM events")}


def dead_letter_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM dead_letters")}


def test_kill_nine_during_ingest_then_rerun_equals_one_clean_run(tmp_path: Path) -> None:
    log = tmp_path / "eve.json"
    with log.open("w") as handle:
        for n in range(60_000):
            handle.write(eve_alert(n) + "\n")
            if n % 997 == 0:
                handle.write("{not json at all\n")
    crashed, clean = tmp_path / "crashed.db", tmp_path / "clean.db"
    rng = random.Random(20261122)

    kills = 0
    for _ in range(4):
        proc = subprocess.Popen(
            [*EGOVOPS, "ingest", "--store", f"sqlite:///{crashed}", str(log), "--json"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.8, 2.5))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    final = json.loads(
        run_cli("ingest", "--store", f"sqlite:///{crashed}", str(log), "--json").stdout
    )
    reference = json.loads(run_cli("ingest", "--store", f"sqlite:///{clean}", str(log), "--json").stdout)

    assert kills >= 1, "the test must really interrupt an ingest"
    assert reference["accepted"] == 60_000 and reference["rejected"] == 61
    assert final["accepted"] + final["duplicates"] == 60_000
    assert stored_ids(crashed) == stored_ids(clean)
    assert dead_letter_ids(crashed) == dead_letter_ids(clean)
    with sqlite3.connect(crashed) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Raises if the free-text index disagrees with the rows it indexes.
        conn.execute("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")
