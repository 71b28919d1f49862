"""The pieces behind the pages, without a server: chart geometry, visible control characters, and
bounded pages over a real store and case store."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jinja2 import Environment

from egovops.web.console.charts import bar_chart, time_chart
from egovops.web.console.eventviews import PAGE_SIZE, SearchForm, StatsCache, search_events
from egovops.web.console.readmodels import alert_list
from egovops.web.console.rendering import environment, visible
from secops.detection.alerts import Alert
from secops.events import Event, format_ts
from secops.incidents import open_cases
from secops.store import Stats
from secops.store.sqlite import SQLiteStore

T0 = datetime(2026, 11, 22, tzinfo=UTC)


def test_bars_are_as_long_as_their_values() -> None:
    chart = bar_chart([("a", 10), ("b", 5), ("c", 0)], width=460, label_width=100)
    assert [b.width for b in chart.bars] == [300.0, 150.0, 0.0]
    assert [b.y for b in chart.bars] == [0, 22, 44] and chart.height == 66


def test_lines_have_a_point_per_day_and_count_their_events() -> None:
    chart = time_chart({"2026-11-20": {"a": 4}, "2026-11-21": {"a": 2, "b": 8}}, width=170, height=60)
    assert [(line.name, line.total) for line in chart.lines] == [("a", 6), ("b", 8)]
    assert chart.lines[1].points == "30.0,40.0 130.0,20.0" and chart.top == 8


def test_control_characters_are_shown_not_passed_on() -> None:
    assert visible("a\x1b[31mb\x07\x9bc\td\n") == "a\\x1b[31mb\\x07\\x9bc\td\n"
    assert visible(None) == ""


def test_every_template_escapes() -> None:
    env = environment()
    assert isinstance(env, Environment) and env.autoescape is True
    rendered = env.from_string("{{ x }}{{ x | visible }}").render(x="<img src=x onerror=alert(1)>{{7*7}}")
    assert rendered == 2 * "&lt;img src=x onerror=alert(1)&gt;{{7*7}}"


def test_event_search_pages_back_in_time(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "events.db") as store:
        stamps = [(f"e{n:03d}", format_ts(T0 + timedelta(seconds=n))) for n in range(120)]
        store.write([
            Event(key, at, "test", {"@timestamp": at, "event": {"dataset": "test", "id": key}})
            for key, at in stamps
        ])
        seen: list[str] = []
        before = ""
        while True:
            page = search_events(store, SearchForm(before=before))
            seen += [d["event"]["id"] for d in page.events]
            if page.next_before is None:
                break
            before = page.next_before
        assert seen == [f"e{n:03d}" for n in reversed(range(120))]
        assert len(search_events(store, SearchForm()).events) == PAGE_SIZE
        assert search_events(store, SearchForm(fields=["no equals sign"])).error is not None


def test_alert_pages_are_bounded_and_complete(tmp_path: Path) -> None:
    alerts = [
        Alert(id=f"{n:032x}", rule_id="r", title="t", severity="low", entity={"source.ip": "192.0.2.1"},
              event_ids=[f"e{n}"], tags=[], first_seen=format_ts(T0 + timedelta(minutes=n)),
              last_seen=format_ts(T0 + timedelta(minutes=n)), count=1, suppressed=n)
        for n in range(120)
    ]
    with open_cases(f"sqlite:///{tmp_path / 'cases.db'}") as cases:
        with cases.writing() as session:
            cases.upsert_alerts(session, alerts)
        pages = [alert_list(cases, severity=None, rule=None, page=n) for n in (1, 2, 3)]
    assert [(len(p.items), p.has_next) for p in pages] == [(50, True), (50, True), (20, False)]
    assert [a.suppressed for p in pages for a in p.items] == list(reversed(range(120)))


def test_figures_are_read_once_then_refreshed_in_the_background() -> None:
    reads: list[int] = []
    ready = threading.Event()

    def read() -> Stats:
        reads.append(1)
        if len(reads) > 1:
            ready.set()
        return Stats(len(reads), {}, {}, 0)

    cache = StatsCache(read, ttl=0.0)
    assert cache.get().total == 1  # the first view reads
    assert cache.get().total == 1  # a stale value is served at once while one refresh runs
    assert ready.wait(5)
    for _ in range(100):
        if cache.get().total == 2:
            break
        time.sleep(0.01)
    assert cache.get().total >= 2
