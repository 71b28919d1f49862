"""Same events, same queries, same answers: SQLite and Elasticsearch share one query semantics.

A varied set of events (five datasets, Chinese text, IPv4 and IPv6, lists, numbers, booleans, equal
timestamps that only the id orders) goes into both backends; every query of the table must return the
same ids in the same order from both, and count, export and stats must agree too.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from secops.events import Event, format_ts, get
from secops.store.base import Query
from secops.store.elasticsearch import ElasticsearchStore
from secops.store.sqlite import SQLiteStore
from tests.components.elasticsearch import ElasticsearchServer
from tests.store import drop, make_event, open_es

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
USERS = ["admin", "张三", "李四", "root", "user_admin"]
ADDRESSES = ["10.1.1.5", "10.1.1.50", "192.168.3.7", "2001:db8::5", "240e:1:2::a"]
CATEGORIES = [["authentication"], ["network"], ["web", "intrusion_detection"], ["process", "file"]]


def varied_events(n: int = 400) -> list[Event]:
    rng = random.Random(20261120)
    events: list[Event] = []
    moment = NOW - timedelta(days=100)
    for i in range(n):
        if rng.random() > 0.1:  # one in ten shares the previous timestamp: only the id orders those
            moment += timedelta(seconds=rng.randint(1, 40000), microseconds=rng.randint(0, 999999))
        dataset = rng.choice(
            ["suricata.eve", "suricata.stats", "modsecurity.audit", "auditd.log", "system.auth"]
        )
        user, ip = rng.choice(USERS), rng.choice(ADDRESSES)
        outcome = rng.choice(["success", "failure"])
        word = "登录成功" if outcome == "success" else "登录失败"
        fields: dict[str, Any] = {
            "source__ip": ip,
            "destination__port": rng.choice([22, 80, 443, 8443]),
            "event__category": rng.choice(CATEGORIES),
            "event__outcome": outcome,
            "user__name": user,
        }
        verb = "Accepted" if outcome == "success" else "Failed"
        message = rng.choice(
            [
                f"用户 {user} {word} from {ip} port {rng.randint(1024, 65535)}",
                f"{verb} password for {user} from {ip} GET /admin/login.php?id={i} ET SCAN",
                "",
            ]
        )
        if message:
            fields["message"] = message
        text = f"<raw record {i}> {message} Nmap-probe" if rng.random() < 0.7 else ""
        if dataset == "modsecurity.audit":
            fields["http__response__status_code"] = rng.choice([200, 403, 404])
            fields["rule__id"] = rng.sample(["942100", "942190", "941100", "932160"], k=rng.randint(1, 3))
            fields["modsecurity__intercepted"] = rng.random() < 0.5
            fields["tags"] = rng.sample(["attack-sqli", "attack-xss", "drill", "paranoia-level/2"], k=2)
        if dataset == "suricata.eve":
            fields["suricata__eve__alert__signature_id"] = rng.choice([2010935, 2001219, 2100498])
            fields["suricata__eve__flow__bytes_toserver"] = rng.randint(0, 10**9)
            fields["tls__established"] = rng.random() < 0.5
        events.append(make_event(i, format_ts(moment), dataset, text=text, **fields))
    return events


@pytest.fixture(scope="module")
def stores(
    elasticsearch: ElasticsearchServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SQLiteStore, ElasticsearchStore]]:
    base: Path = tmp_path_factory.mktemp("parity")
    sqlite, es = SQLiteStore(base / "events.db"), open_es(elasticsearch.url, base / "spool")
    events = varied_events()
    assert sqlite.write(events) == es.write(events)
    es.flush()
    yield sqlite, es
    drop(es)
    sqlite.close()


def at(days: float) -> datetime:
    return NOW - timedelta(days=days)


QUERIES: list[tuple[str, Query, bool]] = [
    ("everything-newest", Query(limit=None), True),
    ("everything-oldest", Query(limit=None, newest_first=False), True),
    ("limit-newest", Query(limit=17), True),
    ("limit-oldest", Query(limit=23, newest_first=False), True),
    ("text-word", Query(text="failed", limit=None), True),
    ("text-case", Query(text="FAILED Password", limit=None), True),
    ("text-chinese", Query(text="登录失败", limit=None), True),
    ("text-chinese-user", Query(text="张三 登录成功", limit=None), True),
    ("text-ip", Query(text="10.1.1.5", limit=None), True),
    ("text-ipv6", Query(text="2001:db8::5", limit=None), True),
    ("text-path", Query(text="/admin/login.php", limit=None), True),
    ("text-underscore", Query(text="user_admin", limit=None), True),
    ("text-two-words", Query(text="ET scan", limit=None), True),
    ("text-no-tokens", Query(text=" ,,, ", limit=30), True),
    ("text-absent", Query(text="nosuchword", limit=None), False),
    ("text-raw-record-only", Query(text="Nmap-probe", limit=None), False),
    ("field-keyword", Query(fields={"event.outcome": "failure"}, limit=None), True),
    ("field-list", Query(fields={"event.category": "authentication"}, limit=None), True),
    ("field-list-second", Query(fields={"event.category": "intrusion_detection"}, limit=None), True),
    ("field-ipv4", Query(fields={"source.ip": "10.1.1.5"}, limit=None), True),
    ("field-ipv6", Query(fields={"source.ip": "240e:1:2::a"}, limit=None), True),
    ("field-port", Query(fields={"destination.port": "443"}, limit=None), True),
    ("field-status", Query(fields={"http.response.status_code": "403"}, limit=None), True),
    ("field-bool-true", Query(fields={"tls.established": "true"}, limit=None), True),
    ("field-bool-false", Query(fields={"modsecurity.intercepted": "false"}, limit=None), True),
    ("field-rule-list", Query(fields={"rule.id": "942100"}, limit=None), True),
    ("field-dynamic-long", Query(fields={"suricata.eve.alert.signature_id": "2010935"}, limit=None), True),
    ("field-chinese", Query(fields={"user.name": "张三"}, limit=None), True),
    ("field-tags", Query(fields={"tags": "paranoia-level/2"}, limit=None), True),
    ("field-unknown", Query(fields={"no.such.field": "x"}, limit=None), False),
    ("field-wrong-type", Query(fields={"destination.port": "https"}, limit=None), False),
    ("two-fields", Query(fields={"user.name": "root", "event.outcome": "success"}, limit=None), True),
    ("since", Query(since=at(30), limit=None), True),
    ("until", Query(until=at(70), limit=None, newest_first=False), True),
    ("window", Query(since=at(60), until=at(40), limit=None), True),
    ("dataset", Query(datasets=["auditd.log"], limit=None), True),
    ("datasets", Query(datasets=["suricata.eve", "system.auth"], limit=None), True),
    (
        "combined",
        Query(
            text="failed",
            fields={"event.category": "authentication"},
            since=at(90),
            until=at(10),
            datasets=["system.auth", "auditd.log"],
            limit=None,
        ),
        True,
    ),
    (
        "combined-limit",
        Query(text="from", fields={"destination.port": "22"}, limit=9, newest_first=False),
        True,
    ),
    ("empty-window", Query(since=at(1), until=at(2), limit=None), False),
]


@pytest.mark.parametrize(
    ("query", "nonempty"), [(q, n) for _, q, n in QUERIES], ids=[n for n, _, _ in QUERIES]
)
def test_same_ids_in_same_order(
    stores: tuple[SQLiteStore, ElasticsearchStore], query: Query, nonempty: bool
) -> None:
    sqlite, es = stores
    expected = [get(doc, "event.id") for doc in sqlite.search(query)]
    assert bool(expected) == nonempty  # the table exercises what it claims to
    assert [get(doc, "event.id") for doc in es.search(query)] == expected
    assert es.count(query) == sqlite.count(query)


def test_export_and_stats_agree(stores: tuple[SQLiteStore, ElasticsearchStore]) -> None:
    sqlite, es = stores
    assert list(es.export()) == list(sqlite.export())
    window = Query(since=at(50), datasets=["modsecurity.audit"], limit=None)
    assert list(es.export(window)) == list(sqlite.export(window))
    mine, theirs = es.stats(), sqlite.stats()
    assert (mine.total, mine.per_dataset, mine.per_day) == (theirs.total, theirs.per_dataset, theirs.per_day)


def test_get_by_ids_agrees_and_leaves_out_unknown_ids(stores: tuple[SQLiteStore, ElasticsearchStore]) -> None:
    sqlite, es = stores
    every = [get(doc, "event.id") for doc in sqlite.export()]
    wanted = [*every[::7], "not-an-event", every[0]]  # a stride across months, an unknown id, a repeat

    found = sqlite.get(wanted)

    assert set(found) == set(every[::7]) and len(every[::7]) > 50
    assert all(get(doc, "event.id") == event_id for event_id, doc in found.items())
    assert es.get(wanted) == found
    assert sqlite.get([]) == {} == es.get([])
