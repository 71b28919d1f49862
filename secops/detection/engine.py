"""The streaming detection engine: base-rule matches in, alerts out, on event time.

Per event: the rule set says which base rules match (dispatched, precompiled); each match becomes an
alert unless a `generate: false` correlation keeps that rule silent, and feeds the correlations that
consume it. Time is the events' own: the watermark is the latest event time seen minus the allowed
lateness; events older than the watermark still raise their own alerts but no longer enter correlation
windows (counted as `late`). The watermark closes windows judged at their close (absence, lt/eq counts)
and expires state. `snapshot()` / `restore()` carry the whole state across a restart.

Alerts may come back more than once under the same id: suppression folds a repeat into the first alert
and hands that same alert out again, updated in place; a store upserts by id (`alerts.latest` does the
same for a list).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from secops.detection import correlate_native
from secops.detection.alerts import (
    Alert,
    Suppression,
    Suppressor,
    alert_id,
    event_alert_id,
    folds,
    iso,
)
from secops.detection.collector import young_generation
from secops.detection.correlate import AnyCorrelation, Correlation, RuleInfo, compile_correlations
from secops.detection.correlate_windows import add_closing, add_immediate, close, rebuild
from secops.detection.ruleset import NativeScan
from secops.detection.state import Entry, GroupKey, StateCounters, Window, WindowStore, freeze
from secops.events import Event, get, parse_iso

ENTITY_FIELDS = ("source.ip", "host.name", "host.hostname", "user.name")
"""Fields a single-event alert names its entity by, when the event has them."""

_ENTITY_PARTS = tuple((name, tuple(name.split("."))) for name in ENTITY_FIELDS)

SWEEP_EVERY = 0.1
"""Event-time seconds between expiry sweeps (short: each sweep's work, and so its pause, stays small)."""

SNAPSHOT_VERSION = 1

_NATIVE_COUNTERS = ("events", "matched", "late", "ungrouped", "base_alerts", "correlation_alerts")
"""Engine counters the native correlation windows keep."""


class CompiledRuleLike(Protocol):
    @property
    def ref(self) -> RuleInfo: ...


class RuleSetLike(Protocol):
    """What the engine needs of secops.detection.ruleset.RuleSet."""

    @property
    def rules(self) -> Sequence[CompiledRuleLike]: ...
    @property
    def correlations(self) -> Sequence[AnyCorrelation]: ...
    def match_event(self, event: Event) -> Sequence[RuleInfo]: ...


class SnapshotError(ValueError):
    """A snapshot this engine cannot restore; the message says why."""


@dataclass(slots=True)
class EngineOptions:
    lateness: float = 30.0  # seconds an event may arrive behind the latest event time seen
    ttl: float = 7 * 86400.0  # no window outlives this, whatever its timespan
    max_groups: int = 1_000_000  # windows over all correlations; past it the oldest of the largest go
    max_evidence: int = 10_000  # event ids kept on one alert (the count goes on)
    suppress: Mapping[str, Suppression] = field(default_factory=dict)  # by rule id or name


@dataclass(slots=True)
class EngineCounters:
    events: int = 0
    matched: int = 0  # base-rule matches
    late: int = 0  # matches too late for correlation windows
    ungrouped: int = 0  # matches lacking a group-by field (Splunk-style: not counted)
    base_alerts: int = 0
    correlation_alerts: int = 0  # correlation firings, before suppression


_MINUTES: dict[str, float] = {}


def event_seconds(timestamp: str) -> float:
    """Epoch seconds of an event timestamp; ECS `...T12:34:56.789012Z` is read without datetime per event."""
    if len(timestamp) == 27 and timestamp[26] == "Z":
        minute = timestamp[:16]
        base = _MINUTES.get(minute)
        if base is None:
            if len(_MINUTES) > 100_000:
                _MINUTES.clear()
            base = _MINUTES[minute] = datetime.fromisoformat(minute + ":00+00:00").timestamp()
        return base + float(timestamp[17:26])
    moment = parse_iso(timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _thaw(value: Any) -> Any:
    """A group value as JSON has it (frozen lists back to lists)."""
    return [_thaw(v) for v in value] if value.__class__ is tuple else value


def _field_reader(name: str) -> Callable[[Mapping[str, Any]], Hashable]:
    """A function reading one field's value, hashable, from an event (None when it is missing)."""
    parts = tuple(name.split("."))

    def generic(doc: Mapping[str, Any]) -> Hashable:
        return _group_value(_walk(doc, parts))

    if len(parts) != 2:
        return generic
    outer, inner = parts

    def pair(doc: Mapping[str, Any]) -> Hashable:  # `source.ip` and the like, written out
        node = doc.get(outer)
        value = node.get(inner) if node.__class__ is dict else None
        if value is None:
            return generic(doc)
        return value if value.__class__ in _SCALARS else freeze(value)

    return pair


def _key_reader(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], GroupKey | None]:
    """A function reading the group key (the values of `names`) from an event, None if one is missing."""
    readers = tuple(_field_reader(name) for name in names)
    if len(readers) == 1:
        only = readers[0]

        def single(doc: Mapping[str, Any]) -> GroupKey | None:
            value = only(doc)
            return None if value is None else (value,)

        return single

    def several(doc: Mapping[str, Any]) -> GroupKey | None:
        values = tuple(read(doc) for read in readers)
        return None if None in values else values

    return several


def _reads_beyond(rule: Suppression | None, names: Sequence[str]) -> bool:
    """Whether suppression by `rule` reads a field other than `names` (so needs the event's fields)."""
    return rule is not None and not set(rule.fields) <= set(names)


def _entity(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A single-event alert's entity: the `ENTITY_FIELDS` the event has."""
    entity: dict[str, Any] = {}
    for name, parts in _ENTITY_PARTS:
        value = _walk(doc, parts)
        if value is not None:
            entity[name] = value
    return entity


class _Feed:
    """One input of one correlation, with its readers compiled (what a base-rule match flows into)."""

    __slots__ = ("index", "key_of", "position", "value_of")

    def __init__(
        self,
        index: int,
        position: int,
        corr: Correlation,
        readers: dict[tuple[str, ...], Callable[[Mapping[str, Any]], GroupKey | None]],
    ) -> None:
        self.index = index
        self.position = position
        fields = corr.fields[position]
        if fields not in readers:
            readers[fields] = _key_reader(fields)
        self.key_of = readers[fields]  # shared by inputs grouped alike: one read serves them all
        counted = corr.value_fields[position]
        self.value_of = _field_reader(counted) if counted is not None else None


def _walk(doc: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    """A nested field (`source.ip` as ("source", "ip")); a literal dotted key is tried when the walk fails."""
    node: Any = doc
    for part in parts:
        if node.__class__ is not dict:
            return get(doc, ".".join(parts)) if isinstance(node, Mapping) else None
        node = node.get(part)
        if node is None:
            return doc.get(".".join(parts)) if len(parts) > 1 else None
    return node


_SCALARS = frozenset((str, int, float, bool))


def _group_value(value: Any) -> Hashable:
    frozen: Hashable = value if value.__class__ in _SCALARS else freeze(value)
    return frozen


class Engine:
    """Runs base rules and correlations over a stream of events; see the module docstring."""

    def __init__(
        self, ruleset: RuleSetLike, options: EngineOptions | None = None, *, native: bool = True
    ) -> None:
        """`native=False` matches with the generated Python event by event (the reference path)."""
        self.ruleset = ruleset
        self.options = options or EngineOptions()
        self.match = ruleset.match_event
        refs = [rule.ref for rule in ruleset.rules]
        self.plan = compile_correlations(refs, ruleset.correlations)
        self.failed = self.plan.failed
        self.correlations: list[Correlation] = self.plan.correlations
        self.silenced = self.plan.silenced
        self.consumers = self.plan.consumers
        overrides = self.options.suppress
        self._base_suppress = {
            r.id: overrides.get(r.id) or (overrides.get(r.name) if r.name else None) for r in refs
        }
        self._corr_suppress = [
            overrides.get(c.key) or (overrides.get(c.name) if c.name else None) or c.suppress
            for c in self.correlations
        ]
        readers: dict[tuple[str, ...], Callable[[Mapping[str, Any]], GroupKey | None]] = {}
        self._feeds = {
            source: sorted(
                (_Feed(index, position, self.correlations[index], readers) for index, position in targets),
                key=lambda feed: self.correlations[feed.index].fields[feed.position],
            )
            for source, targets in self.consumers.items()
        }
        self.counters = EngineCounters()
        self._scan: Callable[[Sequence[Event], tuple[str, ...]], NativeScan | None] | None = (
            getattr(ruleset, "native_scan", None) if native else None
        )
        self._project = self._read_fields()
        self._refs = refs
        self._native = self._native_windows(ruleset) if native else None
        self._reset_state()

    @property
    def native_windows(self) -> bool:
        """Whether the correlation windows are kept natively (`correlate_native`)."""
        return self._native is not None

    def _native_windows(
        self, ruleset: RuleSetLike
    ) -> tuple[correlate_native.CorrelatingMatcher, Callable[[], correlate_native.NativeCorrelator]] | None:
        """The matcher that feeds native correlation windows, and their factory (`correlate_native`)."""
        native_of = getattr(ruleset, "native", None)
        if not correlate_native.supported(self.correlations) or native_of is None:
            return None
        matcher = native_of(self._project)
        if matcher is None:
            return None
        options = self.options
        plan = correlate_native.plan_text(
            self.correlations,
            [[(f.index, f.position) for f in self._feeds.get(r.id, ())] for r in self._refs],
            self.consumers,
            [r.id in self.silenced for r in self._refs],
            self.silenced,
            [_reads_beyond(self._corr_suppress[i], c.group_by) for i, c in enumerate(self.correlations)],
            {
                "entity": ENTITY_FIELDS,
                "rule_docs": [_reads_beyond(self._base_suppress[r.id], ENTITY_FIELDS) for r in self._refs],
                "lateness": options.lateness,
                "ttl": options.ttl,
                "max_groups": options.max_groups,
                "max_evidence": options.max_evidence,
                "sweep_every": SWEEP_EVERY,
            },
        )
        rules: list[correlate_native.Spec] = [
            (r.id, r.name, r.title, r.level, tuple(r.tags), None, "sigma", folds(self._base_suppress[r.id]))
            for r in self._refs
        ]
        corrs: list[correlate_native.Spec] = [
            (c.key, c.name, c.title, c.level, tuple(c.tags), c.title_zh, c.kind, folds(rule))
            for c, rule in zip(self.correlations, self._corr_suppress, strict=True)
        ]
        return correlate_native.build(matcher, plan, event_seconds, rules, corrs)

    def _read_fields(self) -> tuple[str, ...]:
        """Every field the engine reads from a matched event: entities, group-by, counted values,
        suppression fields (what the native matcher hands back instead of the whole document)."""
        names: list[str] = list(ENTITY_FIELDS)
        for corr in self.correlations:
            for fields in corr.fields:
                names.extend(fields)
            names.extend(name for name in corr.value_fields if name is not None)
        rules = [*self._base_suppress.values(), *self._corr_suppress]
        names.extend(name for rule in rules if rule is not None for name in rule.fields)
        return tuple(sorted(set(names)))

    def _reset_state(self) -> None:
        horizons = [c.timespan if c.immediate else 0.0 for c in self.correlations]
        self.store = WindowStore(horizons, self.options.max_groups, self.options.ttl)
        self.suppressor = Suppressor(self.options.max_groups, self.options.max_evidence)
        self.max_time = -math.inf
        self.watermark = -math.inf
        self._next_sweep = -math.inf
        self._state = self._native[1]() if self._native is not None else None

    # --- the stream ----------------------------------------------------------------------------------

    def process(self, event: Event) -> list[Alert]:
        """Alerts raised (or updated) by one event, including windows its time closed elsewhere."""
        return self.process_batch((event,))

    def process_batch(self, events: Sequence[Event]) -> list[Alert]:
        """`process` for a batch of events in stream order: the same alerts, in the same order.

        With the native matcher the batch is matched on the events' JSON text in one call, and only
        the events that matched a rule are looked at here (through the few fields the engine reads);
        the others just move event time on, once per run of them (windows that run closes are judged
        before the next match, as they would be event by event). The garbage collector's young generation
        is about a batch meanwhile (`collector.young_generation`).
        """
        with young_generation():
            return self._batch(events)

    def _batch(self, events: Sequence[Event]) -> list[Alert]:
        if self._native is not None and self._state is not None:
            return self._apply(
                self._native[0].correlate_batch(
                    self._state,
                    [event.dataset for event in events],
                    [event.json for event in events],
                    [event.timestamp for event in events],
                    events,
                )
            )
        scan = self._scan(events, self._project) if self._scan is not None else None
        if scan is None:
            alerts: list[Alert] = []
            for event in events:
                alerts.extend(self._process_one(event))
            return alerts
        hits, tail = scan
        self.counters.events += len(events)
        alerts = []
        start = 0
        for position, refs, doc, seconds, before in hits:
            if before > self.max_time:
                alerts.extend(self._clock(before))
            elif math.isnan(before):
                self._quiet(events, start, position, before, alerts)
            event = events[position]
            t = event_seconds(event.timestamp) if math.isnan(seconds) else seconds
            if t > self.max_time:
                alerts.extend(self._clock(t))
            alerts.extend(self._matched(event, refs, doc, t))
            start = position + 1
        self._quiet(events, start, len(events), tail, alerts)
        return alerts

    def _apply(self, batch: correlate_native.Batch) -> list[Alert]:
        """The alerts the native side made, with its fixes done in stream order (`correlate_native.Fix`):
        the fields it left to Python filled, suppression applied, expired suppression forgotten."""
        alerts, fixes = batch
        for fix in fixes:
            position, code, index, doc, now = fix[:5]
            if code == 2:
                self.suppressor.expire(now)
                continue
            alert = alerts[position]
            rule: Suppression | None
            if code == 0:
                if alert.entity is None:
                    alert.entity = _entity(doc)
                rule = self._base_suppress[self._refs[index].id]
            else:
                if alert.id is None:
                    alert.first_seen = iso(fix[5])
                    alert.last_seen = alert.first_seen if now == fix[5] else iso(now)
                    alert.id = alert_id(alert.rule_id, alert.entity, alert.first_seen)
                rule = self._corr_suppress[index]
            alerts[position] = self.suppressor.admit(alert, rule, self._values(rule, alert.entity, doc), now)
        return alerts

    def _quiet(
        self, events: Sequence[Event], start: int, stop: int, latest: float, alerts: list[Alert]
    ) -> None:
        """Events that matched nothing: only their latest time counts (NaN: not in the canonical form)."""
        if math.isnan(latest):
            latest = max(event_seconds(events[n].timestamp) for n in range(start, stop))
        if latest > self.max_time:
            alerts.extend(self._clock(latest))

    def _process_one(self, event: Event) -> list[Alert]:
        """The reference path (no native matcher): match with the generated Python."""
        self.counters.events += 1
        t = event_seconds(event.timestamp)
        alerts = self._clock(t) if t > self.max_time else []
        refs = self.match(event)
        if refs:
            alerts.extend(self._matched(event, refs, event.doc, t))
        return alerts

    def _clock(self, t: float) -> list[Alert]:
        """Event time moves on to `t` (later than any seen): the watermark follows, due windows close."""
        self.max_time = t
        mark = t - self.options.lateness
        if mark > self.watermark:
            self.watermark = mark
            if mark > self.store.next_deadline() or mark >= self._next_sweep:
                return self._tick()
        return []

    def _matched(
        self, event: Event, refs: Sequence[RuleInfo], doc: Mapping[str, Any], t: float
    ) -> list[Alert]:
        """The alerts and correlation inputs of one event's base-rule matches."""
        counters = self.counters
        counters.matched += len(refs)
        alerts: list[Alert] = []
        late = t < self.watermark
        silenced = self.silenced
        for ref in refs:
            if ref.id not in silenced:
                alerts.append(self._base_alert(ref, event, doc))
            feeds = self._feeds.get(ref.id)
            if feeds:
                if late:
                    counters.late += 1
                    continue
                ids = (event.id,)
                reader = key = None
                for feed in feeds:  # sorted so that inputs grouped alike are read once
                    if feed.key_of is not reader:
                        reader = feed.key_of
                        key = reader(doc)
                    if key is None:
                        counters.ungrouped += 1
                        continue
                    value = feed.value_of(doc) if feed.value_of is not None else None
                    alerts += self._add(feed.index, key, (t, feed.position, value, ids), doc)
        return alerts

    def advance(self, watermark: float | str) -> list[Alert]:
        """Move the watermark on without an event (a quiet stream still closes windows)."""
        mark = event_seconds(watermark) if isinstance(watermark, str) else float(watermark)
        if self._state is not None:
            return self._apply(self._state.advance(mark))
        if mark <= self.watermark:
            return []
        self.watermark = mark
        self._next_sweep = -math.inf
        return self._tick()

    def flush(self) -> list[Alert]:
        """End of stream: judge every open window now (absences still pending fire), then start empty."""
        self.watermark = math.inf
        alerts = self._apply(self._state.advance(math.inf)) if self._state is not None else self._tick()
        counters = self._counts()[0]
        self._reset_state()
        self._set_counts(counters, StateCounters())
        return alerts

    def _tick(self) -> list[Alert]:
        mark = self.watermark
        alerts: list[Alert] = []
        for index, key, window in self.store.due(mark):
            alerts.extend(self._close(index, key, window))
        if mark >= self._next_sweep:
            self.store.sweep(mark)
            self.suppressor.expire(mark)
            self._next_sweep = mark + SWEEP_EVERY
        return alerts

    def _close(self, index: int, key: GroupKey, window: Window) -> list[Alert]:
        fired, deadline = close(self.correlations[index], window, self.watermark)
        if deadline is not None:
            self.store.arm(index, key, window, deadline)
        elif not window.entries:
            self.store.drop(index, key)
        alerts: list[Alert] = []
        for evidence in fired:
            alerts.extend(self._fire(index, key, evidence, None))
        return alerts

    # --- correlation ---------------------------------------------------------------------------------

    def _feed_result(
        self,
        index: int,
        position: int,
        t: float,
        entity: Mapping[str, Any],
        ids: tuple[str, ...],
        doc: Mapping[str, Any] | None,
    ) -> list[Alert]:
        """An inner correlation's firing into an outer one: values read from the inner alert's entity."""
        corr = self.correlations[index]
        values: list[Hashable] = []
        for name in corr.fields[position]:
            value = entity.get(name)
            if value is None:
                self.counters.ungrouped += 1
                return []
            values.append(_group_value(value))
        counted = corr.value_fields[position]
        value = _group_value(entity.get(counted)) if counted is not None else None
        return self._add(index, tuple(values), (t, position, value, ids), doc)

    def _add(self, index: int, key: GroupKey, entry: Entry, doc: Mapping[str, Any] | None) -> list[Alert]:
        corr = self.correlations[index]
        if corr.trigger:
            return self._fire(index, key, [entry], doc)
        window = self.store.get(index, key)
        if not corr.immediate:
            deadline = add_closing(corr, window, entry)
            if deadline is not None:
                self.store.arm(index, key, window, deadline)
            return []
        alerts: list[Alert] = []
        for evidence in add_immediate(corr, window, entry, self.options.lateness):
            alerts.extend(self._fire(index, key, evidence, doc))
        return alerts

    def _fire(
        self, index: int, key: GroupKey, evidence: list[Entry], doc: Mapping[str, Any] | None
    ) -> list[Alert]:
        corr = self.correlations[index]
        self.counters.correlation_alerts += 1
        if len(evidence) == 1:
            ids = list(evidence[0][3])
        else:
            ids = list(dict.fromkeys(i for entry in evidence for i in entry[3]))
        count = len(ids)
        if count > self.options.max_evidence:
            self.suppressor.evidence_truncated += count - self.options.max_evidence
            ids = ids[: self.options.max_evidence]
        first_time, last_time = evidence[0][0], evidence[-1][0]  # a slice of a time-ordered window
        entity = {name: _thaw(v) for name, v in zip(corr.group_by, key, strict=True)}
        alerts: list[Alert] = []
        if corr.key not in self.silenced:
            alerts.append(self._corr_alert(index, entity, ids, count, first_time, last_time, doc))
        consumers = self.consumers.get(corr.key)
        if consumers:
            chained = tuple(ids)
            for outer, position in consumers:
                alerts.extend(self._feed_result(outer, position, last_time, entity, chained, doc))
        return alerts

    def _corr_alert(
        self,
        index: int,
        entity: dict[str, Any],
        ids: list[str],
        count: int,
        first_time: float,
        last_time: float,
        doc: Mapping[str, Any] | None,
    ) -> Alert:
        """A correlation's alert, through suppression."""
        corr = self.correlations[index]
        first = iso(first_time)
        last = first if last_time == first_time else iso(last_time)
        alert = Alert(
            id=alert_id(corr.key, entity, first),
            rule_id=corr.key,
            rule_name=corr.name,
            title=corr.title,
            severity=corr.level,
            entity=entity,
            event_ids=ids,
            tags=list(corr.tags),
            first_seen=first,
            last_seen=last,
            count=count,
            rule_type=corr.kind,
            title_zh=corr.title_zh,
        )
        rule = self._corr_suppress[index]
        return self.suppressor.admit(alert, rule, self._values(rule, entity, doc), last_time)

    # --- single-event alerts -------------------------------------------------------------------------

    def _base_alert(self, ref: RuleInfo, event: Event, doc: Mapping[str, Any]) -> Alert:
        self.counters.base_alerts += 1
        entity = _entity(doc)
        stamp = event.timestamp
        alert = Alert(
            id=event_alert_id(ref.id, event.id),
            rule_id=ref.id,
            rule_name=ref.name,
            title=ref.title,
            severity=ref.level,
            entity=entity,
            event_ids=[event.id],
            tags=list(ref.tags),
            first_seen=stamp,
            last_seen=stamp,
            count=1,
        )
        rule = self._base_suppress.get(ref.id)
        if rule is None:
            return alert
        return self.suppressor.admit(alert, rule, self._values(rule, entity, doc), event_seconds(stamp))

    @staticmethod
    def _values(
        rule: Suppression | None, entity: Mapping[str, Any], doc: Mapping[str, Any] | None
    ) -> tuple[Hashable, ...]:
        if rule is None:
            return ()
        return tuple(
            _group_value(entity[name] if name in entity else (get(doc, name) if doc is not None else None))
            for name in rule.fields
        )

    # --- state ---------------------------------------------------------------------------------------

    def metrics(self) -> dict[str, int]:
        """Counters for monitoring (events, matches, alerts, drops, evictions) and the window count."""
        counters, state, groups, truncated = self._counts()
        return {
            **asdict(counters),
            "suppressed": self.suppressor.suppressed,
            "suppression_evicted": self.suppressor.evicted,
            "evidence_truncated": self.suppressor.evidence_truncated + truncated,
            "groups": groups,
            **asdict(state),
        }

    def _counts(self) -> tuple[EngineCounters, StateCounters, int, int]:
        """(engine counters, state counters, windows, evidence ids cut from chained firings natively)."""
        if self._state is None:
            return self.counters, self.store.counters, self.store.size, 0
        native = dict(self._state.counters())
        counters = EngineCounters(**{name: native[name] for name in _NATIVE_COUNTERS})
        state = StateCounters(**{name: native[name] for name in asdict(StateCounters())})
        return counters, state, native["groups"], native["evidence_truncated"]

    def _set_counts(self, counters: EngineCounters, state: StateCounters) -> None:
        self.counters = counters
        if self._state is None:
            self.store.counters = state
            return
        for name in _NATIVE_COUNTERS:
            self._state.set_counter(name, getattr(counters, name))
        for name, value in asdict(state).items():
            self._state.set_counter(name, value)

    def snapshot(self) -> bytes:
        """The whole correlation state (windows, deadlines, suppression, time, counters) as bytes."""

        def finite(x: float) -> float | None:
            return x if math.isfinite(x) else None

        names = [c.key for c in self.correlations]
        counters, state, _, _ = self._counts()
        if self._state is None:
            max_time, watermark = self.max_time, self.watermark
            windows = self.store.to_state(names)
        else:
            max_time, watermark = self._state.clock
            with young_generation():  # millions of new lists: the collector would walk them again and again
                windows = [[names[i], key, t, None, entries] for i, key, t, entries in self._state.windows()]
        return orjson.dumps(
            {
                "version": SNAPSHOT_VERSION,
                "max_time": finite(max_time),
                "watermark": finite(watermark),
                "windows": windows,
                "suppression": self.suppressor.to_state(),
                "counters": asdict(counters),
                "state_counters": asdict(state),
            }
        )

    def restore(self, data: bytes) -> None:
        """Replace the state with a snapshot's; windows of correlations no longer loaded are dropped."""
        try:
            state = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SnapshotError(f"snapshot is not JSON: {exc}") from exc
        if not isinstance(state, dict) or state.get("version") != SNAPSHOT_VERSION:
            found = state.get("version") if isinstance(state, dict) else None
            raise SnapshotError(f"snapshot version {found!r} is not {SNAPSHOT_VERSION}")
        counters = self._counts()[0]
        try:
            self._load(state)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            self._reset_state()
            self._set_counts(counters, StateCounters())
            raise SnapshotError(f"snapshot is damaged ({type(exc).__name__}: {exc}); starting empty") from exc

    def _load(self, state: dict[str, Any]) -> None:
        self._reset_state()
        counts = StateCounters(**state["state_counters"])
        index_of = {c.key: i for i, c in enumerate(self.correlations)}
        if self._state is None:
            self.store.counters = counts
            for index, window in self.store.load_state(state["windows"], index_of):
                if self.correlations[index].immediate:
                    rebuild(self.correlations[index], window)
        else:
            for name, key, newest, _deadline, entries in state["windows"]:
                loaded = index_of.get(name)
                if loaded is None:
                    counts.restore_dropped += 1
                else:
                    self._state.load_window(loaded, key, newest, entries)
        self.suppressor.load_state(state["suppression"])
        self._set_counts(EngineCounters(**state["counters"]), counts)
        self.max_time = state["max_time"] if state["max_time"] is not None else -math.inf
        self.watermark = state["watermark"] if state["watermark"] is not None else -math.inf
        if self._state is not None:
            self._state.clock = (self.max_time, self.watermark)
