"""The SQLite store's own layout: the free-text index it creates, and files made by earlier versions."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import egovops_native
import pytest

from secops.events import Event
from secops.store.base import Query, Retention
from secops.store.sqlite import FTS_SETTINGS, SCHEMA, WRITER_VARIABLE, SQLiteStore, where_clause
from tests.store import make_event

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

# The free-text table as the first versions created it (with per-row token counts).
EARLIER_FTS = """
CREATE VIRTUAL TABLE events_fts USING fts5(
    text, content='events_text', content_rowid='rowid',
    tokenize="unicode61 remove_diacritics 0 tokenchars '_.:/@-'"
);
CREATE VIEW events_text AS SELECT rowid, coalesce(json_extract(doc, '$.message'), '') AS text FROM events;
"""


def events(prefix: str, day: str) -> list[Event]:
    failed = f"Failed password for root from {prefix}"
    return [
        make_event(f"{prefix}-1", f"{day}T01:00:00.000000Z", message=failed),
        make_event(f"{prefix}-2", f"{day}T02:00:00.000000Z", message="flow tcp 10.0.0.1:5000 -> 10.0.0.2:80"),
        make_event(f"{prefix}-3", f"{day}T03:00:00.000000Z"),
    ]


def found(store: SQLiteStore, text: str) -> set[str]:
    return {doc["event"]["id"] for doc in store.search(Query(text=text, limit=None))}


def fts_definition(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db:
        return str(db.execute("SELECT sql FROM sqlite_master WHERE name = 'events_fts'").fetchone()[0])


def fts_settings(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as db:
        return {k: v for k, v in db.execute("SELECT k, v FROM events_fts_config") if k != "version"}


def integrity_ok(store: SQLiteStore) -> None:
    """FTS5's own check: the index holds exactly the tokens of the rows it indexes (raises otherwise)."""
    store.db.execute("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")


def check_search_and_prune(store: SQLiteStore, old: list[Event], new: list[Event]) -> None:
    assert found(store, "failed ROOT") == {old[0].id, new[0].id}
    assert found(store, "10.0.0.1:5000") == {old[1].id, new[1].id}
    assert found(store, "198.51.100.9") == {new[0].id}
    integrity_ok(store)
    assert store.prune(Retention(default_days=180), now=NOW) == {"suricata.eve": 3}
    assert found(store, "failed root") == {new[0].id}
    assert store.count(Query(limit=None)) == 3
    integrity_ok(store)


def test_new_files_index_text_without_token_counts(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "new.db")
    old, new = events("203.0.113.5", "2026-01-10"), events("198.51.100.9", "2026-11-19")
    assert store.write(old).stored == 3
    result = store.write([*new, old[0]])
    assert (result.stored, result.duplicates) == (3, 1)
    check_search_and_prune(store, old, new)
    store.close()
    assert "columnsize=0" in fts_definition(tmp_path / "new.db")
    assert fts_settings(tmp_path / "new.db") == dict(FTS_SETTINGS)


def test_a_file_made_by_an_earlier_version_opens_and_works_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "earlier.db"
    with closing(sqlite3.connect(path)) as db:
        db.executescript(EARLIER_FTS)
        db.executescript(SCHEMA)  # the rest, as the earlier version had it; its FTS table is kept
    old, new = events("203.0.113.5", "2026-01-10"), events("198.51.100.9", "2026-11-19")
    store = SQLiteStore(path)
    store.write(old)
    store.close()
    store = SQLiteStore(path)  # reopened: nothing to migrate
    assert store.write(new).stored == 3
    check_search_and_prune(store, old, new)
    store.close()
    assert "columnsize" not in fts_definition(path)
    assert fts_settings(path) == dict(FTS_SETTINGS)  # merges and leaves from now on; old leaves stay valid


def test_a_file_tuned_by_an_earlier_version_gets_the_settings_it_lacks(tmp_path: Path) -> None:
    path = tmp_path / "tuned.db"
    SQLiteStore(path).close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DELETE FROM events_fts_config WHERE k = 'hashsize'")  # as files tuned before it are
    store = SQLiteStore(path)
    assert store.write(events("203.0.113.5", "2026-01-10")).stored == 3
    integrity_ok(store)
    store.close()
    assert fts_settings(path) == dict(FTS_SETTINGS)


def row(event: Event) -> tuple[str, str, str, str, str | None]:
    return (event.id, event.timestamp, event.dataset, event.json, event.message)


def test_rows_with_duplicates_anywhere_in_a_batch_index_the_text_of_the_rows_stored(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "rows.db")
    old, new = events("203.0.113.5", "2026-01-10"), events("198.51.100.9", "2026-11-19")
    assert store.write_rows([row(e) for e in old[:2]]).stored == 2
    # a stored row first, the same new row twice, then new rows: the row ids after the gaps must match
    result = store.write_rows([row(old[0]), row(new[0]), row(new[0]), row(old[2]), *map(row, new[1:])])
    assert (result.stored, result.duplicates) == (4, 2)
    check_search_and_prune(store, old, new)
    stored = store.db.execute("SELECT count(*) FROM events").fetchone()[0]
    assert stored == 3
    store.close()


def test_field_filters_find_the_same_events_whatever_the_raw_text_of_the_value(tmp_path: Path) -> None:
    """Field filters first look for the value in the document's raw JSON text; values whose raw form
    differs (escaped, fractional, LIKE wildcards, other letter case) must still match exactly as before."""
    store = SQLiteStore(tmp_path / "e.db")
    day = "2026-11-20T01:00:00.000000Z"
    store.write([
        make_event("quote", day, url__path='say "hi"'),
        make_event("pct", day, url__query="a%_b"),
        make_event("pct-lookalike", day, url__query="aXYb"),
        make_event("ratio", day, event__risk_score=1000.0),
        make_event("huge", day, network__bytes=1e20),
        make_event("upper", day, user__name="Admin"),
        make_event("list", day, event__category=["network", "intrusion_detection"]),
        make_event("flag", day, tls__established=True),
        make_event("port", day, destination__port=8080),
    ])  # fmt: skip

    def keys(**fields: str) -> list[str]:
        docs = store.search(Query(fields={k.replace("__", "."): v for k, v in fields.items()}, limit=None))
        assert store.count(Query(fields={k.replace("__", "."): v for k, v in fields.items()})) == len(docs)
        return sorted(doc["event"]["id"] for doc in docs)

    def ident(key: str) -> str:
        return make_event(key, day).id

    assert keys(url__path='say "hi"') == [ident("quote")]
    assert keys(url__query="a%_b") == [ident("pct")]
    assert keys(event__risk_score="1000.0") == [ident("ratio")]
    assert keys(event__risk_score="1e3") == []
    assert keys(network__bytes="1.0e+20") == [ident("huge")]  # stored as 1e+20, read back as 1.0e+20
    assert keys(user__name="Admin") == [ident("upper")]
    assert keys(user__name="admin") == []
    assert keys(event__category="intrusion_detection") == [ident("list")]
    assert keys(tls__established="true") == [ident("flag")]
    assert keys(destination__port="8080") == [ident("port")]
    assert keys(destination__port="808") == []


def test_address_filters_find_their_rows_through_the_index_exactly(tmp_path: Path) -> None:
    """Filters on `ip` members look candidates up among the index's `#` tokens; the exact comparison
    still decides (a longer address, another letter case, a number are not the value)."""
    store = SQLiteStore(tmp_path / "a.db")
    assert store.addresses
    day = "2026-11-19T01:00:00.000000Z"
    store_events = [
        make_event("rare", day, message="alert", source__ip="198.18.3.17", destination__ip="10.20.1.5"),
        make_event("longer", day, message="198.18.3.17 in text only", source__ip="198.18.3.170"),
        make_event("v6", day, source__ip="FE80::1", destination__ip="10.20.1.5"),
        make_event("list", day, related__ip=["10.20.1.5", "198.18.3.17"]),
        make_event("numeric", day, source__ip=5),
        make_event("none", day, message="no address"),
    ]  # fmt: skip
    store.write(store_events)
    day_id = {key: make_event(key, day).id for key in ("rare", "longer", "v6", "list", "numeric")}

    def ids(**fields: str) -> set[str]:
        query = Query(fields={k.replace("__", "."): v for k, v in fields.items()}, limit=None)
        docs = store.search(query)
        assert store.count(query) == len(docs)
        return {doc["event"]["id"] for doc in docs}

    assert ids(source__ip="198.18.3.17") == {day_id["rare"]}
    assert ids(destination__ip="10.20.1.5") == {day_id["rare"], day_id["v6"]}
    assert ids(source__ip="FE80::1") == {day_id["v6"]}
    assert ids(source__ip="fe80::1") == set()
    assert ids(related__ip="198.18.3.17") == {day_id["list"]}
    assert ids(source__ip="5") == {day_id["numeric"]}  # a number takes the document path
    assert ids(source__ip="198.18.3.17", destination__ip="10.20.1.5") == {day_id["rare"]}
    # free text never sees the address tokens: the address is found only where the message has it
    assert found(store, "198.18.3.17") == {day_id["longer"]}
    plan = " ".join(row[3] for row in store.db.execute(
        "EXPLAIN QUERY PLAN SELECT doc FROM events" + where_clause(Query(fields={"source.ip": "1.2.3.4"}),
        addresses=True)[0], where_clause(Query(fields={"source.ip": "1.2.3.4"}), addresses=True)[1]))
    assert "events_fts" in plan
    # the view the store prunes by gives each row exactly the text it was indexed with
    rows = [(e.id, e.timestamp, e.dataset, e.json, e.message) for e in store_events]
    indexed = [text or "" for text in egovops_native.fts_texts(rows)]
    assert [text for (text,) in store.db.execute("SELECT text FROM events_text ORDER BY rowid")] == indexed
    assert any("#198.18.3.17" in text for text in indexed)
    integrity_ok(store)
    assert store.prune(Retention(default_days=1), now=NOW) == {"suricata.eve": 6}
    integrity_ok(store)
    store.db.execute("CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, events_fts, 'row')")
    assert store.db.execute("SELECT term, doc FROM temp.terms").fetchall() == []  # nothing left behind
    assert store.count(Query(limit=None)) == 0
    store.close()


def test_files_made_before_addresses_were_indexed_filter_by_reading_documents(tmp_path: Path) -> None:
    path = tmp_path / "earlier.db"
    with closing(sqlite3.connect(path)) as db:
        db.executescript(EARLIER_FTS)
        db.executescript(SCHEMA)
    store = SQLiteStore(path)
    assert not store.addresses
    day = "2026-11-19T01:00:00.000000Z"
    store.write([make_event("a", day, message="m", source__ip="198.18.3.17"),
                 make_event("b", day, source__ip="198.18.3.170")])  # fmt: skip
    assert [d["event"]["id"] for d in store.search(Query(fields={"source.ip": "198.18.3.17"}))] == [
        make_event("a", day).id
    ]
    integrity_ok(store)
    store.close()


EVE = Path(__file__).parents[1] / "data" / "suricata" / "eve.json"


def eve_parser() -> egovops_native.SuricataParser:
    return egovops_native.SuricataParser(
        id_prefix="0123456789abcdef", label="eve.json", observer="sensor-1", keep_original=True,
        dataset="suricata.eve",
    )


def table(store: SQLiteStore) -> list[tuple[object, ...]]:
    return store.db.execute("SELECT rowid, id, ts, dataset, doc FROM events ORDER BY rowid").fetchall()


def test_native_rows_are_the_tuples_feed_makes() -> None:
    data = EVE.read_bytes() + b"not json\n"
    rows, letters = eve_parser().feed_rows(0, data)
    events, expected_letters = eve_parser().feed(0, data)
    assert (rows.tuples(), letters) == (events, expected_letters)
    assert (len(rows), len(letters)) == (27, 1)
    assert rows.datasets() == {"suricata.eve": 26, "suricata.stats": 1}


def test_the_native_writer_stores_and_indexes_what_the_python_path_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = EVE.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1  # two blocks of whole lines
    stores = {"native": SQLiteStore(tmp_path / "native.db")}
    monkeypatch.setenv(WRITER_VARIABLE, "python")
    stores["python"] = SQLiteStore(tmp_path / "python.db")
    assert stores["native"].writer is not None and stores["python"].writer is None
    results = {}
    for name, store in stores.items():
        parser = eve_parser()
        first = store.write_native([parser.feed_rows(0, data[:cut])[0]])
        # stored rows again, then new rows, then the same new rows again inside one transaction
        again = [parser.feed_rows(0, data[:cut])[0], *(parser.feed_rows(cut, data[cut:])[0] for _ in "ab")]
        results[name] = (first, store.write_native(again))
        assert not store.db.in_transaction, "the Python connection holds no transaction meanwhile"
    first, second = results["native"]
    assert results["native"] == results["python"]
    assert (first.stored, second.stored, second.duplicates) == (13, 14, 13 + 14)
    assert table(stores["native"]) == table(stores["python"])
    for text in ("curl", "portal.example.gov.cn", "nxdomain"):
        assert found(stores["native"], text) == found(stores["python"], text) != set()
    assert stores["native"].count(Query(limit=None, fields={"source.ip": "203.0.113.45"})) > 0
    for store in stores.values():
        integrity_ok(store)  # each entry holds exactly the text the view rebuilds from the row
        assert store.prune(Retention(default_days=180), now=NOW) == {"suricata.eve": 26, "suricata.stats": 1}
        integrity_ok(store)
        store.close()


def test_the_native_writer_calls_the_sqlite_library_python_uses() -> None:
    """Two copies of SQLite in one process would not see each other's POSIX locks on the store file."""
    version, library = egovops_native.SQLiteWriter.library()
    with open("/proc/self/maps", encoding="utf-8") as maps:
        mapped = {line.split()[-1] for line in maps if "libsqlite3" in line}
    assert version == sqlite3.sqlite_version
    assert mapped == {os.path.realpath(library)}


def test_the_native_writer_refuses_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE other (x)")
    with pytest.raises(sqlite3.OperationalError, match="no such table: events"):
        egovops_native.SQLiteWriter(str(path))
