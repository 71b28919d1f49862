"""The streaming engine on hand-built rules: every correlation type, time, bounds, restart, suppression."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from sigma.correlations import SigmaCorrelationRule

from secops.detection.alerts import Alert, Suppression, latest
from secops.detection.correlate_absence import AbsenceRule, is_absence, parse_absence
from secops.detection.engine import Engine, EngineOptions, SnapshotError
from secops.events import Event, format_ts, from_epoch, get

T0 = 1_763_000_000.0


@dataclass(frozen=True, slots=True)
class Ref:
    """Stands in for secops.detection.ruleset.RuleRef (same fields)."""

    id: str
    name: str | None
    title: str
    level: str
    tags: tuple[str, ...]
    path: str


@dataclass(frozen=True, slots=True)
class Rule:
    ref: Ref
    matches: Callable[[dict[str, Any]], bool]


def action_is(action: str) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: get(doc, "event.action") == action


class FakeRuleSet:
    """Base rules as predicates on `event.action`, correlations parsed from YAML as the loader would."""

    def __init__(
        self, actions: Sequence[str], correlations: str, tags: dict[str, tuple[str, ...]] | None = None
    ) -> None:
        self.rules = [
            Rule(Ref(f"id-{a}", a, f"rule {a}", "low", (tags or {}).get(a, ()), "test.yml"), action_is(a))
            for a in actions
        ]
        docs = [d for d in yaml.safe_load_all(correlations) if d]
        self.correlations: list[SigmaCorrelationRule | AbsenceRule] = [
            parse_absence(d) if is_absence(d) else SigmaCorrelationRule.from_dict(d) for d in docs
        ]

    def match_event(self, event: Event) -> list[Ref]:
        return [rule.ref for rule in self.rules if rule.matches(event.doc)]


class Stream:
    """Builds events with increasing ids at offsets (seconds) from T0."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, at: float, action: str, **fields: Any) -> Event:
        self.n += 1
        doc: dict[str, Any] = {"event": {"action": action}}
        for dotted, value in fields.items():
            node = doc
            parts = dotted.split("__")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        return Event(f"ev{self.n}", format_ts(from_epoch(T0 + at)), "test", doc)


def run(engine: Engine, events: Sequence[Event]) -> list[Alert]:
    out: list[Alert] = []
    for event in events:
        out.extend(engine.process(event))
    return latest(out)


BRUTE = """
title: SSH brute force
id: 00000000-0000-0000-0000-0000000000b1
name: brute
level: high
tags: [attack.t1110]
correlation:
  type: event_count
  rules: [fail]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 5}
"""


def test_event_count_fires_at_threshold_with_every_contributing_event() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["fail"], BRUTE))
    events = [ev(i * 5, "fail", source__ip="203.0.113.9") for i in range(5)]
    events += [ev(3, "fail", source__ip="198.51.100.1")]
    alerts = run(engine, events)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.rule_id == "00000000-0000-0000-0000-0000000000b1"
    assert alert.entity == {"source.ip": "203.0.113.9"}
    assert alert.event_ids == ["ev1", "ev2", "ev3", "ev4", "ev5"]
    assert alert.count == 5 and alert.severity == "high" and alert.tags == ["attack.t1110"]
    assert alert.rule_type == "event_count"
    assert alert.first_seen == format_ts(from_epoch(T0)) and alert.last_seen == format_ts(from_epoch(T0 + 20))
    assert "203.0.113.9" in alert.summary_zh and "关联规则" in alert.summary_zh
    # Deterministic: the same input in a fresh engine gives the same id.
    again = run(Engine(FakeRuleSet(["fail"], BRUTE)), events)
    assert [a.id for a in again] == [alert.id]


def test_event_count_needs_the_events_within_the_timespan() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["fail"], BRUTE))
    assert run(engine, [ev(i * 20, "fail", source__ip="203.0.113.9") for i in range(5)]) == []


def test_restart_in_the_middle_of_a_brute_force_still_fires() -> None:
    ev = Stream()
    events = [ev(i * 5, "fail", source__ip="203.0.113.9") for i in range(5)]
    first = Engine(FakeRuleSet(["fail"], BRUTE))
    assert run(first, events[:3]) == []
    saved = first.snapshot()

    restarted = Engine(FakeRuleSet(["fail"], BRUTE))
    restarted.restore(saved)
    alerts = run(restarted, events[3:])
    assert [a.event_ids for a in alerts] == [["ev1", "ev2", "ev3", "ev4", "ev5"]]
    assert restarted.metrics()["events"] == 5

    cold = Engine(FakeRuleSet(["fail"], BRUTE))
    assert run(cold, events[3:]) == []


def test_restore_rejects_foreign_bytes_and_drops_unknown_correlations() -> None:
    engine = Engine(FakeRuleSet(["fail"], BRUTE))
    with pytest.raises(SnapshotError, match="not JSON"):
        engine.restore(b"\x00garbage")
    with pytest.raises(SnapshotError, match="version"):
        engine.restore(b'{"version": 99}')
    with pytest.raises(SnapshotError, match="damaged"):
        engine.restore(b'{"version": 1, "windows": [["x", ["1.2.3.4"]]]}')
    assert engine.metrics()["groups"] == 0
    ev = Stream()
    run(engine, [ev(0, "fail", source__ip="203.0.113.9")])
    other = Engine(FakeRuleSet(["fail"], BRUTE.replace("0000000000b1", "0000000000b2")))
    other.restore(engine.snapshot())
    assert other.metrics()["restore_dropped"] == 1 and other.metrics()["groups"] == 0


def test_out_of_order_within_lateness_counts_and_older_is_late() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["fail"], BRUTE), EngineOptions(lateness=45))
    ordered = [ev(t, "fail", source__ip="203.0.113.9") for t in (0, 10, 20, 30, 40)]
    shuffled = [ordered[i] for i in (1, 4, 0, 3, 2)]
    alerts = run(engine, shuffled)
    assert len(alerts) == 1 and sorted(alerts[0].event_ids) == ["ev1", "ev2", "ev3", "ev4", "ev5"]
    assert alerts[0].first_seen == format_ts(from_epoch(T0))

    engine = Engine(FakeRuleSet(["fail"], BRUTE), EngineOptions(lateness=5))
    late = [ev(100, "fail", source__ip="203.0.113.9")] + [
        ev(t, "fail", source__ip="203.0.113.9") for t in (60, 61, 62, 63)
    ]
    assert run(engine, late) == []
    assert engine.metrics()["late"] == 4


def test_value_count_counts_distinct_values_only() -> None:
    scan = """
title: Port scan
name: scan
correlation:
  type: value_count
  rules: [conn]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 4, field: destination.port}
"""
    ev = Stream()
    engine = Engine(FakeRuleSet(["conn"], scan))
    repeats = [ev(i, "conn", source__ip="192.0.2.7", destination__port=80) for i in range(50)]
    assert run(engine, repeats) == []
    ports = [
        ev(60 + i, "conn", source__ip="192.0.2.7", destination__port=p) for i, p in enumerate((22, 23, 443))
    ]
    alerts = run(engine, ports)
    assert len(alerts) == 1
    # The window held port 80 from the repeats still inside the minute: every one of them contributed.
    assert alerts[0].entity == {"source.ip": "192.0.2.7"}
    assert {"ev51", "ev52", "ev53"} <= set(alerts[0].event_ids)
    assert alerts[0].count == len(alerts[0].event_ids)


CROSS = """
title: Web attack confirmed by WAF and IDS
name: confirmed
level: critical
correlation:
  type: temporal
  rules: [waf, ids]
  group-by: [source.ip]
  timespan: 5m
"""


def test_temporal_needs_every_rule_in_any_order_within_the_timespan() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["waf", "ids"], CROSS))
    alerts = run(engine, [ev(0, "ids", source__ip="203.0.113.5"), ev(120, "waf", source__ip="203.0.113.5")])
    assert [(a.entity, a.event_ids) for a in alerts] == [({"source.ip": "203.0.113.5"}, ["ev1", "ev2"])]
    apart = run(
        engine, [ev(1000, "waf", source__ip="203.0.113.6"), ev(1400, "ids", source__ip="203.0.113.6")]
    )
    assert apart == []
    other_source = run(
        engine, [ev(2000, "waf", source__ip="203.0.113.7"), ev(2001, "ids", source__ip="1.1.1.1")]
    )
    assert other_source == []


CHAIN = (
    BRUTE
    + """
---
title: Brute force then successful login
id: 00000000-0000-0000-0000-0000000000c1
level: critical
tags: [attack.t1078]
correlation:
  type: temporal_ordered
  rules: [brute, success]
  group-by: [source.ip]
  timespan: 10m
"""
)


def test_temporal_ordered_chained_over_a_correlation_keeps_evidence_from_both_sides() -> None:
    ev = Stream()
    rules = FakeRuleSet(["fail", "success"], CHAIN, tags={"fail": ("attack.t1110",)})
    engine = Engine(rules)
    events = [ev(0, "success", source__ip="203.0.113.9")]  # a success before the brute force does not count
    events += [ev(10 + i, "fail", source__ip="203.0.113.9") for i in range(5)]
    events += [ev(100, "success", source__ip="203.0.113.9")]
    alerts = run(engine, events)
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert alert.rule_id == "00000000-0000-0000-0000-0000000000c1"
    assert alert.event_ids == ["ev2", "ev3", "ev4", "ev5", "ev6", "ev7"]
    assert alert.tags == ["attack.t1078", "attack.t1110"]
    # generate: false (the default) keeps the inner correlation and the base rules silent.
    assert engine.silenced == {"id-fail", "id-success", "00000000-0000-0000-0000-0000000000b1"}


def test_temporal_ordered_does_not_fire_out_of_order() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["fail", "success"], CHAIN))
    events = [ev(0, "success", source__ip="203.0.113.9")] + [
        ev(10 + i, "fail", source__ip="203.0.113.9") for i in range(5)
    ]
    assert run(engine, events) == []


def test_generate_true_lets_the_referenced_rules_alert_too() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["fail"], BRUTE.replace("timespan: 1m", "timespan: 1m\n  generate: true")))
    alerts = run(engine, [ev(i, "fail", source__ip="203.0.113.9", user__name="root") for i in range(5)])
    base = [a for a in alerts if a.rule_type == "sigma"]
    assert len(base) == 5 and base[0].entity == {"source.ip": "203.0.113.9", "user.name": "root"}
    assert [a.rule_type for a in alerts if a.rule_type != "sigma"] == ["event_count"]
    assert len({a.id for a in base}) == 5


ABSENT = """
title: Backup started, never finished
name: backup_missing
correlation:
  type: egovops_absence
  rules: [start, done]
  group-by: [host.name]
  timespan: 10m
level: medium
"""


def test_absence_fires_once_the_watermark_passes_without_b() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["start", "done"], ABSENT), EngineOptions(lateness=60))
    alerts = run(
        engine,
        [
            ev(0, "start", host__name="db1"),
            ev(10, "start", host__name="web1"),
            ev(200, "done", host__name="web1"),  # web1 finished in time
            ev(500, "noise", host__name="x"),
        ],
    )
    assert alerts == []  # db1's ten minutes are not over yet
    alerts = run(engine, [ev(661, "noise", host__name="x")])  # watermark 601 > 0 + 600
    assert [(a.entity, a.event_ids, a.rule_type) for a in alerts] == [
        ({"host.name": "db1"}, ["ev1"], "egovops_absence")
    ]


def test_absence_b_arriving_late_within_lateness_still_cancels() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["start", "done"], ABSENT), EngineOptions(lateness=120))
    events = [
        ev(0, "start", host__name="db1"),
        ev(650, "noise", host__name="x"),
        ev(590, "done", host__name="db1"),
        ev(900, "noise", host__name="x"),
    ]
    assert run(engine, events) == []
    assert engine.flush() == []


def test_flush_fires_pending_absences_at_end_of_stream() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["start", "done"], ABSENT))
    run(engine, [ev(0, "start", host__name="db1")])
    assert [a.entity for a in engine.flush()] == [{"host.name": "db1"}]
    assert engine.metrics()["groups"] == 0


def test_lt_condition_is_judged_when_the_window_closes() -> None:
    few = """
title: Too few heartbeats
name: quiet
correlation:
  type: event_count
  rules: [beat]
  group-by: [host.name]
  timespan: 1m
  condition: {lt: 3}
"""
    ev = Stream()
    engine = Engine(FakeRuleSet(["beat"], few), EngineOptions(lateness=0))
    run(
        engine,
        [
            ev(0, "beat", host__name="a"),
            ev(1, "beat", host__name="b"),
            ev(2, "beat", host__name="b"),
            ev(3, "beat", host__name="b"),
        ],
    )
    alerts = engine.advance(T0 + 120)
    assert [(a.entity, a.count) for a in alerts] == [({"host.name": "a"}, 1)]


def test_extended_temporal_condition_with_not() -> None:
    rule = """
title: Upload without scan
name: unscanned
correlation:
  type: temporal
  rules: [upload, scanned]
  group-by: [file.path]
  timespan: 5m
  condition: "upload and not scanned"
"""
    ev = Stream()
    engine = Engine(FakeRuleSet(["upload", "scanned"], rule), EngineOptions(lateness=0))
    run(
        engine,
        [
            ev(0, "upload", file__path="/a"),
            ev(1, "upload", file__path="/b"),
            ev(30, "scanned", file__path="/b"),
        ],
    )
    alerts = engine.advance(T0 + 400)
    assert [a.entity for a in alerts] == [{"file.path": "/a"}]


def test_aliases_group_different_fields_together() -> None:
    rule = """
title: Same address both ways
name: both
correlation:
  type: temporal
  rules: [inbound, outbound]
  group-by: [ip]
  timespan: 1m
  aliases:
    ip: {inbound: source.ip, outbound: destination.ip}
"""
    ev = Stream()
    engine = Engine(FakeRuleSet(["inbound", "outbound"], rule))
    alerts = run(
        engine, [ev(0, "inbound", source__ip="192.0.2.1"), ev(5, "outbound", destination__ip="192.0.2.1")]
    )
    assert [(a.entity, a.event_ids) for a in alerts] == [({"ip": "192.0.2.1"}, ["ev1", "ev2"])]


def test_suppression_folds_repeats_and_keeps_the_count() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["fail"], BRUTE))
    out: list[Alert] = []
    for i in range(15):
        out.extend(engine.process(ev(i, "fail", source__ip="203.0.113.9")))
    assert len(out) == 3 and len({a.id for a in out}) == 1  # fired three times, one alert
    alert = out[-1]
    assert alert.suppressed == 2 and alert.count == 15 and len(alert.event_ids) == 15
    assert engine.metrics()["suppressed"] == 2 and engine.metrics()["correlation_alerts"] == 3


def test_suppression_by_configured_fields_for_base_rules() -> None:
    ev = Stream()
    options = EngineOptions(suppress={"waf": Suppression(("source.ip", "url.path"), 60)})
    engine = Engine(FakeRuleSet(["waf"], ""), options)
    alerts = run(
        engine,
        [
            ev(0, "waf", source__ip="192.0.2.1", url__path="/a"),
            ev(10, "waf", source__ip="192.0.2.1", url__path="/a"),
            ev(20, "waf", source__ip="192.0.2.1", url__path="/b"),
            ev(90, "waf", source__ip="192.0.2.1", url__path="/a"),
        ],
    )
    assert [(a.event_ids, a.suppressed) for a in alerts] == [(["ev1", "ev2"], 1), (["ev3"], 0), (["ev4"], 0)]


def test_state_is_bounded_by_a_cap_and_expires_by_event_time() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["fail"], BRUTE), EngineOptions(max_groups=100, lateness=0))
    run(engine, [ev(i * 0.001, "fail", source__ip=f"10.0.{i // 256}.{i % 256}") for i in range(500)])
    metrics = engine.metrics()
    assert metrics["groups"] == 100 and metrics["evicted_cap"] == 400
    run(engine, [ev(200, "fail", source__ip="192.0.2.200")])
    metrics = engine.metrics()
    assert metrics["groups"] == 1 and metrics["expired"] == 100


def test_ttl_cuts_windows_longer_than_it() -> None:
    ev = Stream()
    long = BRUTE.replace("timespan: 1m", "timespan: 30d")
    engine = Engine(FakeRuleSet(["fail"], long), EngineOptions(ttl=3600, lateness=0))
    run(engine, [ev(0, "fail", source__ip="192.0.2.1"), ev(7200, "fail", source__ip="192.0.2.2")])
    assert engine.metrics()["evicted_ttl"] == 1 and engine.metrics()["groups"] == 1


def test_events_without_the_group_field_are_not_grouped() -> None:
    ev = Stream()
    engine = Engine(FakeRuleSet(["fail"], BRUTE))
    assert run(engine, [ev(i, "fail") for i in range(10)]) == []
    assert engine.metrics()["ungrouped"] == 10


def test_unusable_correlations_are_reported_with_the_reason() -> None:
    bad = """
title: Refers to nothing
name: lost
correlation: {type: event_count, rules: [nope], group-by: [a], timespan: 1m, condition: {gte: 2}}
---
title: Loop one
name: one
correlation: {type: event_count, rules: [two], group-by: [a], timespan: 1m, condition: {gte: 2}}
---
title: Loop two
name: two
correlation: {type: event_count, rules: [one], group-by: [a], timespan: 1m, condition: {gte: 2}}
---
title: Absent alias
name: noalias
correlation:
  type: temporal
  rules: [fail, one]
  group-by: [ip]
  timespan: 1m
  aliases: {ip: {fail: source.ip}}
"""
    engine = Engine(FakeRuleSet(["fail"], bad))
    reasons = {f.title: f.reason for f in engine.failed}
    assert "no loaded rule or correlation" in reasons["Refers to nothing"]
    assert "cycle" in reasons["Loop one"] or "cycle" in reasons["Loop two"]
    assert "cannot run" in reasons["Absent alias"]
    assert engine.correlations == []


def test_pending_absence_survives_a_restart() -> None:
    ev = Stream()
    first = Engine(FakeRuleSet(["start", "done"], ABSENT), EngineOptions(lateness=0))
    run(
        first,
        [
            ev(0, "start", host__name="db1"),
            ev(5, "start", host__name="web1"),
            ev(100, "done", host__name="web1"),
        ],
    )
    restarted = Engine(FakeRuleSet(["start", "done"], ABSENT), EngineOptions(lateness=0))
    restarted.restore(first.snapshot())
    alerts = restarted.advance(T0 + 700)
    assert [(a.entity, a.event_ids) for a in alerts] == [({"host.name": "db1"}, ["ev1"])]


def test_suppression_survives_a_restart() -> None:
    ev = Stream()
    first = Engine(FakeRuleSet(["fail"], BRUTE))
    [alert] = run(first, [ev(i, "fail", source__ip="203.0.113.9") for i in range(6)])
    restarted = Engine(FakeRuleSet(["fail"], BRUTE))
    restarted.restore(first.snapshot())
    [again] = run(restarted, [ev(10 + i, "fail", source__ip="203.0.113.9") for i in range(5)])
    assert again.id == alert.id and again.suppressed == 1 and again.count == 10
