"""The ingest pipeline as a user meets it: counts, deduplication, dead letters, odd bytes, stdin, config."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from secops.ingest.pipeline import IngestOptions, Ingestor, IngestReport, Sink
from secops.store.base import Query, WriteResult
from secops.store.sqlite import WRITER_VARIABLE, Row, SQLiteStore
from tests.ingest.helpers import cli_json, eve_alert, run_cli, write_lines


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "events.db")


def test_ingesting_twice_stores_each_event_once(tmp_path: Path) -> None:
    log = tmp_path / "eve.json"
    write_lines(log, [eve_alert(n) for n in range(250)])
    db = f"sqlite:///{tmp_path / 'e.db'}"

    first = cli_json("ingest", "--store", db, str(log))
    second = cli_json("ingest", "--store", db, str(log))

    assert (first["accepted"], first["duplicates"], first["rejected"]) == (250, 0, 0)
    assert (second["accepted"], second["duplicates"], second["rejected"]) == (0, 250, 0)
    assert cli_json("events", "stats", "--store", db)["per_dataset"] == {"suricata.eve": 250}


def test_a_copy_of_a_file_under_another_name_is_the_same_data(tmp_path: Path, store: SQLiteStore) -> None:
    lines = [eve_alert(n) for n in range(20)]
    write_lines(tmp_path / "a.json", lines)
    write_lines(tmp_path / "b.json", lines)
    ingestor = Ingestor(store)

    report = ingestor.run([tmp_path / "a.json", tmp_path / "b.json"])

    assert (report.accepted, report.duplicates) == (20, 20)
    assert store.count(Query(limit=None)) == 20


def test_bad_records_are_dead_lettered_with_file_offset_and_reason(tmp_path: Path) -> None:
    good = [eve_alert(n) for n in range(3)]
    log = tmp_path / "mixed.json"
    # A truncated JSON object, a binary blob, a 5 MiB line and valid lines around them.
    log.write_bytes(
        (good[0] + "\n").encode()
        + b'{"timestamp": "2026-11-20T10:00:00.0+0000", "event_type": "alert", "src_ip\n'
        + bytes(b for b in range(256) if b != 0x0A) + b"\n"
        + b"{" + b"x" * (5 * 1024 * 1024) + b"}\n"
        + (good[1] + "\n" + good[2] + "\n").encode()
    )
    db = f"sqlite:///{tmp_path / 'e.db'}"

    result = run_cli("ingest", "--store", db, "--format", "suricata", str(log), "--json")
    report = json.loads(result.stdout)
    letters = cli_json("events", "rejected", "--store", db)

    assert result.returncode == 1, "exit code 1 says: done, but some input was refused"
    assert (report["accepted"], report["rejected"]) == (3, 3)
    offsets = sorted(letter["offset"] for letter in letters)
    first_bad = len(good[0]) + 1
    assert offsets[0] == first_bad
    assert all(letter["source"] == str(log) and letter["reason"] for letter in letters)
    assert any("exceeds the limit" in letter["reason"] for letter in letters)


def test_gbk_bytes_from_chinese_systems_survive(tmp_path: Path, store: SQLiteStore) -> None:
    line = eve_alert(1).replace("ET WEB test signature 1", "检测到SQL注入攻击")
    (tmp_path / "gbk.json").write_bytes(line.encode("gbk") + b"\n")

    report = Ingestor(store).run([tmp_path / "gbk.json"])
    [doc] = store.search(Query())

    assert report.accepted == 1
    assert doc["rule"]["name"] == "检测到SQL注入攻击"


def test_standard_input_is_an_input_too(tmp_path: Path) -> None:
    data = "\n".join(eve_alert(n) for n in range(10)).encode() + b"\n"
    db = f"sqlite:///{tmp_path / 'e.db'}"

    first = json.loads(run_cli("ingest", "--store", db, "-", "--json", stdin=data).stdout)
    again = json.loads(run_cli("ingest", "--store", db, "-", "--json", stdin=data).stdout)

    assert (first["accepted"], again["accepted"], again["duplicates"]) == (10, 0, 10)


def test_events_carry_provenance_and_the_original_record(tmp_path: Path, store: SQLiteStore) -> None:
    write_lines(tmp_path / "eve.json", [eve_alert(7)])
    Ingestor(store, IngestOptions(observer="soc-sensor-1")).run([tmp_path / "eve.json"])

    [doc] = store.search(Query())

    assert doc["event"]["dataset"] == "suricata.eve"
    assert doc["event"]["original"] == eve_alert(7)
    assert doc["log"] == {"file": {"path": str(tmp_path / "eve.json")}, "offset": 0}
    assert doc["observer"]["hostname"] == "soc-sensor-1"
    assert len(doc["event"]["id"]) == 32


def test_original_can_be_left_out(tmp_path: Path, store: SQLiteStore) -> None:
    write_lines(tmp_path / "eve.json", [eve_alert(7)])
    Ingestor(store, IngestOptions(keep_original=False)).run([tmp_path / "eve.json"])

    [doc] = store.search(Query())

    assert "original" not in doc["event"]


def test_unknown_format_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("shopping list: rice, tea\n")

    result = run_cli("ingest", "--store", f"sqlite:///{tmp_path / 'e.db'}", str(tmp_path / "notes.txt"))

    assert result.returncode == 5
    assert b"cannot tell the log format" in result.stdout + result.stderr
    assert b"Traceback" not in result.stderr


def test_configuration_file_and_environment(tmp_path: Path) -> None:
    (tmp_path / "egovops.toml").write_text(
        '[store]\nurl = "sqlite:///from-file.db"\n[ingest]\nbatch_size = 7\n'
    )

    from_file = cli_json("config", cwd=tmp_path)
    from_env = cli_json("config", cwd=tmp_path, env={"EGOVOPS_INGEST__BATCH_SIZE": "9"})
    (tmp_path / "bad.toml").write_text("[store]\nurll = 1\n")
    bad = run_cli("--config", str(tmp_path / "bad.toml"), "config")

    assert from_file["store"]["url"] == "sqlite:///from-file.db"
    assert from_file["ingest"]["batch_size"] == 7
    assert from_env["ingest"]["batch_size"] == 9
    assert bad.returncode == 3
    assert b"bad.toml" in bad.stderr and b"store.urll" in bad.stderr


def test_search_export_and_prune_through_the_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    log = tmp_path / "eve.json"
    now = datetime.now(UTC)
    old = [eve_alert(n, now - timedelta(days=400), src="192.0.2.1") for n in range(5)]
    write_lines(log, old + [eve_alert(n, now - timedelta(days=1)) for n in range(5, 15)])
    cli_json("ingest", "--store", db, str(log))

    hits = cli_json("events", "search", "--store", db, "--field", "source.ip=192.0.2.1", "--limit", "2")
    export = run_cli("events", "export", "--store", db, "--format", "ndjson").stdout.splitlines()
    pruned = cli_json("events", "prune", "--store", db)
    left = cli_json("events", "stats", "--store", db)

    assert hits["total"] == 5 and len(hits["events"]) == 2
    assert len(export) == 15
    assert json.loads(export[0])["source"]["ip"] == "192.0.2.1", "oldest first, nested ECS objects"
    assert pruned["deleted"] == {"suricata.eve": 5}
    assert left["total"] == 10


@pytest.mark.parametrize(("batch_size", "writes"), [(7, [40, 40, 20]), (50, [50, 50])])
def test_sqlite_takes_native_rows_in_transactions_of_its_own_size(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch, batch_size: int, writes: list[int]
) -> None:
    """`ingest.batch_size` sizes bulk requests and detection's batches; SQLite commits `rows_per_write`
    rows at a time (or the batch size, if larger), and the end of a run writes what is left."""
    monkeypatch.setattr(SQLiteStore, "rows_per_write", 40)
    sizes: list[int] = []
    write_rows = store.write_rows

    def recorded(rows: Sequence[Row]) -> WriteResult:
        sizes.append(len(rows))
        return write_rows(rows)

    monkeypatch.setattr(store, "write_rows", recorded)
    report = IngestReport()
    sink = Sink(store, batch_size, report)
    doc = '{"message": "m", "source": {"ip": "192.0.2.1"}}'
    for block in range(10):  # ten blocks of ten events, as a native parser hands them over
        sink.add_rows([(f"{block:04d}{n:04d}", "2026-11-20T10:00:00Z", "suricata.eve", doc, "m")
                       for n in range(10)])
    sink.flush()

    assert sizes == writes
    assert report.accepted == 100
    assert store.count(Query(limit=None, fields={"source.ip": "192.0.2.1"})) == 100


def test_the_native_writer_and_the_python_path_store_the_same_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EVE rows stay in Rust from the parser to the store file unless `EGOVOPS_SQLITE_WRITER=python`;
    both store the same rows with the same row ids, counts and dead letters, in batches of the store's
    size, and a second run finds every event stored."""
    monkeypatch.setattr(SQLiteStore, "rows_per_write", 40)
    log = tmp_path / "eve.json"
    lines = [eve_alert(n) for n in range(100)]
    lines[37] = '{"timestamp": "2026-11-20T10:00:00.0+0000", "event_type"'
    write_lines(log, lines)
    outcomes = []
    for writer in ("native", "python"):
        monkeypatch.setenv(WRITER_VARIABLE, writer)
        store = SQLiteStore(tmp_path / f"{writer}.db")
        assert (store.writer is None) == (writer == "python")
        options = IngestOptions(batch_size=7)
        reports = [Ingestor(store, options).run([log]).as_dict() for _ in "12"]
        rows = store.db.execute("SELECT rowid, id, ts, dataset, doc FROM events ORDER BY rowid").fetchall()
        letters = [(d.offset, d.reason) for d in store.dead_letters()]
        outcomes.append((reports, rows, letters))
        store.close()
    (reports, rows, letters), python = outcomes
    assert (reports, rows, letters) == python
    assert [(r["accepted"], r["duplicates"], r["rejected"]) for r in reports] == [(99, 0, 1), (0, 99, 1)]
    assert reports[0]["per_dataset"] == {"suricata.eve": 99}
    assert [rowid for rowid, *_ in rows] == list(range(1, 100))
    assert letters == [(sum(len(line) + 1 for line in lines[:37]), letters[0][1])]
