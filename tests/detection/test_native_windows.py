"""Correlation windows kept natively (`secops.detection.correlate_native`) against the Python reference.

One rule set with every correlation kind the native side runs (event_count as a trigger and as a count,
value_count, temporal with an extended condition, temporal_ordered over a correlation, aliases, a group
of two fields, `generate: true`), a seeded stream with out-of-order and late events, group values of
mixed types (text, 1 and 1.0 and true, lists, objects, missing) and busy groups; the same alerts (rule,
group, event ids, times, counts, order) and metrics from the Python engine, from the native matcher with
Python windows, and from native windows, also across a snapshot taken in the middle. Rule sets with a
window judged at its close or an absence keep their windows in Python.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from secops.detection.alerts import Alert
from secops.detection.correlate_native import DISABLE_ENV
from secops.detection.engine import Engine, EngineOptions
from secops.detection.ruleset import RuleSet
from secops.events import Event, format_ts, from_epoch
from tests.components import missing

T0 = 1_763_000_000.0
BATCH = 50

BASE = """
title: login failed
name: failed
id: 00000000-0000-4000-8000-0000000000a1
logsource: {product: egovops, service: system.auth}
detection: {sel: {event.action: failed}, condition: sel}
level: low
---
title: login ok
name: ok
id: 00000000-0000-4000-8000-0000000000a2
logsource: {product: egovops, service: system.auth}
detection: {sel: {event.action: ok}, condition: sel}
level: low
---
title: probe
name: probe
id: 00000000-0000-4000-8000-0000000000a3
logsource: {product: egovops, service: system.auth}
detection: {sel: {event.action: probe}, condition: sel}
level: low
tags: [attack.t1046]
---
title: exec
name: exec
id: 00000000-0000-4000-8000-0000000000a4
logsource: {product: egovops, service: system.auth}
detection: {sel: {event.action: exec}, condition: sel}
level: medium
---
title: other
name: other
id: 00000000-0000-4000-8000-0000000000a5
logsource: {product: egovops, service: system.auth}
detection: {sel: {event.action: other}, condition: sel}
level: informational
"""

IMMEDIATE = """
title: brute force
name: brute
correlation: {type: event_count, rules: [failed], group-by: [source.ip], timespan: 10s, condition: {gte: 4}}
level: high
---
title: every exec
name: each_exec
correlation: {type: event_count, rules: [exec], group-by: [host.name], timespan: 1s, condition: {gte: 1}}
generate: true
level: medium
---
title: many ports
name: ports
correlation:
  type: value_count
  rules: [probe]
  group-by: [source.ip]
  timespan: 8s
  condition: {field: destination.port, gt: 3}
level: medium
---
title: probe and exec
name: both
correlation:
  type: temporal
  rules: [probe, exec, ok]
  group-by: [source.ip]
  timespan: 6s
  condition: probe and (exec or ok)
level: high
---
title: brute force then login
name: brute_then_ok
correlation:
  type: temporal_ordered
  rules: [brute, ok]
  group-by: [src]
  aliases: {src: {brute: source.ip, ok: client.ip}}
  timespan: 30s
level: critical
---
title: user and host
name: pair
correlation:
  type: event_count
  rules: [ok, failed]
  group-by: [user.name, host.name]
  timespan: 5s
  condition: {gte: 3}
level: medium
"""

CLOSING = """
title: too few logins
name: few
correlation: {type: event_count, rules: [ok], group-by: [source.ip], timespan: 5s, condition: {lt: 2}}
level: low
"""

ACTIONS = ("failed", "failed", "failed", "ok", "probe", "probe", "exec", "other")
ADDRESSES: tuple[Any, ...] = ("10.0.0.1", "10.0.0.2", "10.0.0.3", 1, 1.0, True, ["10.0.0.1", "x"], None)


def _rules(tmp_path: Path, correlations: str) -> RuleSet:
    (tmp_path / "base.yml").write_text(BASE)
    (tmp_path / "corr.yml").write_text(correlations)
    return RuleSet.load([tmp_path])


def _stream(n: int, seed: int = 5) -> list[Event]:
    """Events about 0.1 s apart; one in ten up to 4 s early (out of order), one in fifty 60 s (late)."""
    rng = random.Random(seed)
    events = []
    for i in range(n):
        at = i * 0.1
        roll = rng.random()
        if roll < 0.1:
            at -= rng.uniform(0, 4)
        elif roll < 0.12:
            at -= 60
        doc: dict[str, Any] = {"event": {"action": rng.choice(ACTIONS), "dataset": "system.auth"}}
        address = rng.choice(ADDRESSES)
        if address is not None:
            doc["source"] = {"ip": address}
            doc["client"] = {"ip": address}
        if rng.random() < 0.8:
            doc["host"] = {"name": rng.choice(("web1", "web2", {"id": 7}))}
        if rng.random() < 0.8:
            doc["user"] = {"name": rng.choice(("root", "alice"))}
        doc["destination"] = {"port": rng.choice((22, 80, 443, 8080, "22", 22.0))}
        stamp = format_ts(from_epoch(T0 + at))
        doc["@timestamp"] = stamp
        events.append(Event(f"ev{i:05d}", stamp, "system.auth", json=orjson.dumps(doc).decode()))
    return events


def _fresh(events: list[Event]) -> list[Event]:
    return [Event(e.id, e.timestamp, e.dataset, json=e.json) for e in events]


def _key(alert: Alert) -> tuple[Any, ...]:
    """The alert as its contract writes it (every field, the summaries), and the containers' types (the
    native side makes the alerts: `tags` and `event_ids` stay lists, `entity` a dict)."""
    return (
        orjson.dumps(alert.to_dict(), option=orjson.OPT_SORT_KEYS),
        type(alert.tags),
        type(alert.event_ids),
        type(alert.entity),
    )


def _run(engine: Engine, events: list[Event], restart_at: int | None = None) -> tuple[list[Any], Engine]:
    """Each alert as handed out (suppression updates an alert in place later)."""
    out: list[Any] = []
    for start in range(0, len(events), BATCH):
        if start == restart_at:
            restored = Engine(engine.ruleset, engine.options)
            restored.restore(engine.snapshot())
            engine = restored
        out += [_key(a) for a in engine.process_batch(events[start : start + BATCH])]
    return out + [_key(a) for a in engine.flush()], engine


def _native_or_skip(engine: Engine) -> None:
    if not engine.native_windows:
        missing("egovops_native with its Correlator", "make setup (rebuilds the native module)")


def test_native_windows_give_the_reference_alerts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ruleset = _rules(tmp_path, IMMEDIATE)
    events = _stream(3000)
    options = EngineOptions(lateness=5.0)
    native = Engine(ruleset, options)
    _native_or_skip(native)
    expected, reference = _run(Engine(ruleset, options, native=False), _fresh(events))
    got, engine = _run(native, _fresh(events))
    alerts = [orjson.loads(k[0]) for k in expected]
    kinds = {a["rule_type"] for a in alerts}
    assert kinds == {"sigma", "event_count", "value_count", "temporal", "temporal_ordered"}
    values = [v for a in alerts for v in a["entity"].values()]
    # fields the native side leaves to Python: a float in a group (its id), a list in an entity
    assert any(isinstance(v, float) for v in values) and any(isinstance(v, list) for v in values)
    assert got == expected
    assert engine.metrics() == reference.metrics()
    assert engine.metrics()["late"] > 0 and engine.metrics()["ungrouped"] > 0

    monkeypatch.setenv(DISABLE_ENV, "0")
    python = Engine(ruleset, options)
    assert not python.native_windows
    assert _run(python, _fresh(events))[0] == expected


def test_native_windows_survive_a_restart_with_the_same_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ruleset = _rules(tmp_path, IMMEDIATE)
    events = _stream(2000, seed=9)
    native = Engine(ruleset)
    _native_or_skip(native)
    uninterrupted, _ = _run(Engine(ruleset), _fresh(events))
    restarted, _ = _run(native, _fresh(events), restart_at=1000)
    assert restarted == uninterrupted

    halfway = _fresh(events)[:1000]
    native = Engine(ruleset)
    for start in range(0, 1000, BATCH):
        native.process_batch(halfway[start : start + BATCH])
    monkeypatch.setenv(DISABLE_ENV, "0")
    python = Engine(ruleset)
    for start in range(0, 1000, BATCH):
        python.process_batch(_fresh(events)[start : start + BATCH])
    assert orjson.loads(native.snapshot()) == orjson.loads(python.snapshot())


def test_windows_judged_at_their_close_stay_in_python(tmp_path: Path) -> None:
    ruleset = _rules(tmp_path, IMMEDIATE + "---\n" + CLOSING)
    engine = Engine(ruleset)
    assert not engine.native_windows
    events = _stream(600)
    expected, _ = _run(Engine(ruleset, native=False), _fresh(events))
    assert "event_count" in {orjson.loads(k[0])["rule_type"] for k in expected}
    assert _run(engine, _fresh(events))[0] == expected
