"""The Elasticsearch backend on a real single node: what a user of `egovops events ...` would notice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from secops.events import DeadLetter, format_ts, get
from secops.store.base import Checkpoint, Query, Retention, StoreError
from secops.store.elasticsearch import ElasticsearchStore
from tests.components.elasticsearch import ElasticsearchServer, free_port
from tests.store import drop, make_event, open_es

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(elasticsearch: ElasticsearchServer, tmp_path: Path) -> Iterator[ElasticsearchStore]:
    es = open_es(elasticsearch.url, tmp_path / "spool")
    yield es
    drop(es)


def ts(days: float, seconds: float = 0) -> str:
    return format_ts(NOW - timedelta(days=days) + timedelta(seconds=seconds))


def ids(docs: list[dict[str, object]]) -> list[str]:
    return [str(get(doc, "event.id")) for doc in docs]


def test_write_search_count_export(store: ElasticsearchStore) -> None:
    events = [
        make_event(
            i,
            ts(i % 40, i),
            "suricata.eve" if i % 3 else "system.auth",
            message=f"Accepted password for user{i % 5} from 10.0.{i % 4}.1 port {2000 + i} 登录成功",
            source__ip=f"10.0.{i % 4}.1",
            source__port=2000 + i,
            event__category=["network", "authentication"] if i % 2 else ["network"],
        )
        for i in range(120)
    ]
    result = store.write(events)
    assert (result.stored, result.duplicates, result.spooled) == (120, 0, 0)

    every = Query(limit=None, newest_first=False)
    expected = sorted(events, key=lambda e: (e.timestamp, e.id))
    assert ids(store.search(every)) == [e.id for e in expected]
    assert [e.doc for e in expected] == list(store.export())  # documents come back as written
    assert store.count(Query()) == 120

    hits = store.search(Query(text="USER3 登录成功", limit=None))
    assert sorted(ids(hits)) == sorted(e.id for e in events if e.doc["source"]["port"] % 5 == 3)
    auth = Query(fields={"event.category": "authentication", "source.ip": "10.0.1.1"}, limit=None)
    expected_auth = [
        e
        for e in events
        if e.doc["source"]["ip"] == "10.0.1.1" and "authentication" in e.doc["event"]["category"]
    ]
    assert expected_auth and store.count(auth) == len(expected_auth)
    newest = store.search(Query(limit=5))
    assert ids(newest) == [e.id for e in reversed(expected)][:5]
    assert store.count(Query(datasets=["system.auth"])) == 40


def test_monthly_indices_per_dataset_with_ecs_mappings(store: ElasticsearchStore) -> None:
    store.write(
        [
            make_event(1, "2026-10-31T23:59:59.999999Z", "suricata.eve", source__ip="2001:db8::1"),
            make_event(2, "2026-11-01T00:00:00.000000Z", "suricata.eve", source__ip="10.1.1.1"),
            make_event(
                3, "2026-11-02T00:00:00.000000Z", "modsecurity.audit", http__response__status_code=403
            ),
        ]
    )
    store.flush()
    prefix = store.options.prefix
    indices = store.client.indices.get(index=f"{prefix}-events-*")
    assert sorted(indices) == [
        f"{prefix}-events-modsecurity.audit-2026.11",
        f"{prefix}-events-suricata.eve-2026.10",
        f"{prefix}-events-suricata.eve-2026.11",
    ]
    settings = indices[f"{prefix}-events-suricata.eve-2026.11"]["settings"]["index"]
    assert (settings["number_of_shards"], settings["number_of_replicas"]) == ("1", "0")
    props = indices[f"{prefix}-events-suricata.eve-2026.11"]["mappings"]["properties"]
    assert props["source"]["properties"]["ip"]["type"] == "ip"
    assert props["@timestamp"]["type"] == "date_nanos"
    # IPv6 addresses are compared as addresses, and the hidden columns never leak into documents.
    assert ids(store.search(Query(fields={"source.ip": "2001:db8:0::1"}))) == [
        make_event(1, "", "suricata.eve").id
    ]
    assert all("_egovops" not in doc for doc in store.export())
    assert store.count(Query(fields={"http.response.status_code": "403"})) == 1
    assert store.count(Query(fields={"http.response.status_code": "forbidden"})) == 0


def test_rewrites_are_counted_as_duplicates(elasticsearch: ElasticsearchServer, tmp_path: Path) -> None:
    store = open_es(elasticsearch.url, tmp_path / "spool", bulk_docs=7)  # many small bulk requests
    try:
        events = [make_event(i, ts(1, i), text=f"line {i}") for i in range(50)]
        first = store.write(events[:30])
        again = store.write(events)
        assert (first.stored, first.duplicates) == (30, 0)
        assert (again.stored, again.duplicates) == (20, 30)
        assert store.count(Query()) == 50
    finally:
        drop(store)


def test_stats_per_dataset_and_day(store: ElasticsearchStore) -> None:
    events = [make_event(i, ts(i % 3, i), "auditd.log" if i % 2 else "system.auth") for i in range(30)]
    store.write(events)
    store.reject([DeadLetter("d1", "/var/log/x", 0, "auth", "bad line", b"\xff\xfe")])
    stats = store.stats()
    assert stats.total == 30
    assert stats.per_dataset == {"auditd.log": 15, "system.auth": 15}
    expected: dict[str, dict[str, int]] = {}
    for e in events:
        day = expected.setdefault(e.timestamp[:10], {})
        day[e.dataset] = day.get(e.dataset, 0) + 1
    assert stats.per_day == expected
    assert (stats.dead_letters, stats.spool_events, stats.spool_bytes, stats.spool_oldest) == (1, 0, 0, None)


def test_prune_drops_old_months_and_trims_the_boundary(store: ElasticsearchStore) -> None:
    events = [make_event(i, ts(i * 2), "suricata.eve") for i in range(150)]  # 300 days back
    events += [make_event(i, ts(i), "system.auth") for i in range(60)]
    store.write(events)
    retention = Retention(default_days=180, datasets={"system.auth": 30})
    cutoff = {
        "suricata.eve": format_ts(NOW - timedelta(days=180)),
        "system.auth": format_ts(NOW - timedelta(days=30)),
    }
    old = {ds: sum(1 for e in events if e.dataset == ds and e.timestamp < cutoff[ds]) for ds in cutoff}

    assert store.prune(retention, now=NOW) == old
    assert store.count(Query()) == len(events) - sum(old.values())
    assert store.count(Query(until=NOW - timedelta(days=180), datasets=["suricata.eve"])) == 0
    kept = store.search(Query(limit=None, newest_first=False, datasets=["suricata.eve"]))
    assert ids(kept) == [
        e.id
        for e in sorted(events, key=lambda e: (e.timestamp, e.id))
        if e.dataset == "suricata.eve" and e.timestamp >= cutoff["suricata.eve"]
    ]
    months = sorted(store.client.indices.get(index=f"{store.options.prefix}-events-suricata.eve-*"))
    assert months[0].endswith("2026.05")  # the boundary month (cutoff 2026-05-24) stays, older ones went
    assert store.prune(retention, now=NOW) == {}


def test_dead_letters_keep_bytes_and_reason(store: ElasticsearchStore) -> None:
    gbk = "非法请求 GET /admin".encode("gbk")
    letters = [
        DeadLetter("a", "/logs/auth.log", 10, "auth", "no syslog header", gbk, "2026-11-20T00:00:01.000000Z"),
        DeadLetter(
            "b", "/logs/eve.json", 99, "suricata", "not JSON", bytes(range(256)), "2026-11-20T00:00:02.0Z"
        ),
    ]
    assert store.reject(letters) == 2
    assert store.reject(letters) == 0
    kept = store.dead_letters()
    assert [(d.id, d.source, d.offset, d.reason, d.raw) for d in kept] == [
        ("b", "/logs/eve.json", 99, "not JSON", bytes(range(256))),
        ("a", "/logs/auth.log", 10, "no syslog header", gbk),
    ]


def test_refused_documents_become_dead_letters(store: ElasticsearchStore) -> None:
    first = make_event(1, ts(1), suricata__eve__payload={"printable": "x"})
    clash = make_event(2, ts(1, 1), suricata__eve__payload="not an object")
    result = store.write([first, clash])
    assert result.stored == 1
    letters = store.dead_letters()
    assert [d.id for d in letters] == [clash.id]
    assert "payload" in letters[0].reason
    assert b"not an object" in letters[0].raw


def test_fields_kept_only_for_display_say_so(store: ElasticsearchStore) -> None:
    store.write([make_event(1, ts(1), text="x")])
    with pytest.raises(StoreError, match="not indexed"):
        store.search(Query(fields={"event.original": "x"}))


def test_checkpoints_live_in_the_local_spool(tmp_path: Path) -> None:
    url = f"elasticsearch://127.0.0.1:{free_port()}"  # nothing listens: checkpoints must not need it
    store = ElasticsearchStore.from_url(url, spool_dir=tmp_path)
    store.save_checkpoint("/var/log/eve.json", Checkpoint("abc", 42, 1000))
    store.save_checkpoint("/var/log/eve.json", Checkpoint("abc", 42, 2000))
    store.client.close()
    again = ElasticsearchStore.from_url(url, spool_dir=tmp_path)
    assert again.checkpoint("/var/log/eve.json") == Checkpoint("abc", 42, 2000)
    assert again.checkpoint("/nowhere") is None
    again.client.close()


def test_unreachable_server_spools_and_says_so(tmp_path: Path) -> None:
    url = f"elasticsearch://127.0.0.1:{free_port()}"
    store = ElasticsearchStore.from_url(url, spool_dir=tmp_path, retries=1, backoff=0.01)
    result = store.write([make_event(i, ts(1, i), text="x" * 100) for i in range(10)])
    assert (result.stored, result.spooled) == (0, 10)
    assert store.reject([DeadLetter("d", "f", 0, "auth", "bad", b"raw")]) == 1
    with pytest.raises(StoreError, match=r"11 events .* spooled"):
        store.stats()
    with pytest.raises(StoreError, match="unreachable"):
        store.search(Query())
    store.client.close()


def test_from_url_rejects_other_schemes(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="elasticsearch://"):
        ElasticsearchStore.from_url("http://127.0.0.1:9200", spool_dir=tmp_path)


def test_outage_mid_ingest_loses_nothing_and_keeps_order(
    elasticsearch: ElasticsearchServer, tmp_path: Path
) -> None:
    """Stop the node between batches, keep writing, start it again: every event arrives once, in order."""
    store = open_es(elasticsearch.url, tmp_path / "spool", retries=2, backoff=0.05, reconnect_interval=0.5)
    batches = [
        [make_event((b, i), ts(1, b * 100 + i), text=f"batch {b} event {i}") for i in range(100)]
        for b in range(8)
    ]
    written = [e.id for batch in batches for e in batch]
    try:
        for batch in batches[:3]:
            assert store.write(batch).stored == 100
        elasticsearch.stop()
        spooled = 0
        for batch in batches[3:6]:
            result = store.write(batch)
            assert (result.stored, result.spooled) == (0, 100)
            spooled += result.spooled
            assert store.spool.size().events == spooled
        assert store.spool.size().bytes > 300 * 100
    finally:
        elasticsearch.start()
    for batch in batches[6:]:  # the spool goes out before these, on the first write after the return
        store.write(batch)
    store.write(batches[2])  # a re-send after a crash: harmless
    store.flush()
    try:
        stats = store.stats()
        assert (stats.total, stats.spool_events, stats.spool_bytes) == (800, 0, 0)
        arrived = store.client.search(
            index=f"{store.options.prefix}-events-*",
            size=1000,
            sort=["_seq_no"],
            source=False,
        )["hits"]["hits"]
        assert [hit["_id"] for hit in arrived] == written  # once each, in the order of writing
    finally:
        drop(store)
