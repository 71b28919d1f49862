"""What the control plane counts as it works: the metrics the pipeline and the detection engine update.

The hot paths call the module-level functions (one line each, a few microseconds):

- `count_ingest(dataset, read=…, stored=…, rejected=…, duplicates=…)` after each batch the sink writes;
- `mark_poll()` once per follower round, `set_follow_lag(dataset, unread_bytes)` per followed dataset;
- `observe_detection(seconds, alerts)` after each engine batch (batch time, alerts per rule and severity,
  and detection latency: wall clock minus the alert's newest event time);
- `watch_engine(engine.metrics)` once per detector: windows, evictions and matches are read at scrape time.

They update `CONTROL_PLANE`, a collector registered in no registry of its own: `monitors.exporter` adds it
to the registry it serves, so tests can build `ControlPlaneMetrics()` and throw it away. Labels are bounded
(`ALLOWED_LABELS`); a value that is not a short name (an address, free text) is counted as `other`, so
a source that puts odd text in its dataset cannot grow the series without end.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

ALLOWED_LABELS = frozenset(
    {
        "dataset", "rule", "state", "severity", "kind", "clock",  # the control plane
        "indicator", "city", "county", "department", "level",  # the estate (bounded by the estate file)
        "resource",  # vcpu, memory, storage, overall
        "system", "band",  # 等保: the systems assessed (as many as the estate has), 优/良/中/差
        "scenario",  # drills: the scenarios shipped in secops/drills/scenarios
    }
)  # fmt: skip
"""Every label name an egovops metric may carry; tests/monitors fail on any other."""
OTHER = "other"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")

LATENCY_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
"""Seconds from an event's time to its alert: the objective in monitors/rules is 60 s at the 95th."""
BATCH_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def bounded(value: str) -> str:
    """`value` when it reads as a name (dataset, rule id, state), else `other`; never an address."""
    if not _NAME.match(value):
        return OTHER
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return value
    return OTHER


class AlertLike(Protocol):
    """What `observe_detection` reads from an alert (secops.detection.alerts.Alert has it)."""

    @property
    def rule_id(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def last_seen(self) -> str: ...


class ControlPlaneMetrics(Collector):
    """The counters, gauges and histograms of one process, collected together."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.read = Counter(
            "egovops_ingest_events_read",
            "Records parsed from inputs, per dataset.",
            ["dataset"],
            registry=None,
        )
        self.stored = Counter(
            "egovops_ingest_events_stored",
            "Events newly stored or durably spooled.",
            ["dataset"],
            registry=None,
        )
        self.duplicates = Counter(
            "egovops_ingest_events_duplicate",
            "Events already stored (not stored twice).",
            ["dataset"],
            registry=None,
        )
        self.rejected = Counter(
            "egovops_ingest_events_rejected",
            "Records dead-lettered because they could not be read.",
            ["dataset"],
            registry=None,
        )
        self.last_event = Gauge(
            "egovops_ingest_last_event_timestamp_seconds",
            "When a record of the dataset was last read.",
            ["dataset"],
            registry=None,
        )
        self.last_poll = Gauge(
            "egovops_ingest_last_poll_timestamp_seconds",
            "When the follower last looked at its files.",
            registry=None,
        )
        self.silence = Gauge(
            "egovops_ingest_silence_threshold_seconds",
            "Seconds without a record after which a followed source counts as silent (settings).",
            registry=None,
        )
        self.lag = Gauge(
            "egovops_ingest_lag_bytes",
            "Bytes written to followed files and not read yet.",
            ["dataset"],
            registry=None,
        )
        self.batch = Histogram(
            "egovops_detection_batch_duration_seconds",
            "Time the rules take over one stored batch.",
            buckets=BATCH_BUCKETS,
            registry=None,
        )
        self.latency = Histogram(
            "egovops_detection_latency_seconds",
            "Wall clock at alerting minus the alert's newest event time.",
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        self.alerts = Counter(
            "egovops_alerts",
            "Alerts raised (or updated), per rule and severity.",
            ["rule", "severity"],
            registry=None,
        )
        self._owned: tuple[Collector, ...] = (
            self.read, self.stored, self.duplicates, self.rejected, self.last_event, self.last_poll,
            self.silence, self.lag, self.batch, self.latency, self.alerts,
        )  # fmt: skip
        self._engine: Callable[[], Mapping[str, int]] | None = None

    # -- the hot paths ---------------------------------------------------------------------------------

    def count_ingest(
        self, dataset: str, *, read: int = 0, stored: int = 0, rejected: int = 0, duplicates: int = 0
    ) -> None:
        """One batch of a dataset: `read` counts every record read (stored, duplicate or rejected alike),
        so rejected / read is the dead-letter rate the rules watch."""
        name = bounded(dataset)
        for counter, amount in (
            (self.read, read), (self.stored, stored), (self.rejected, rejected), (self.duplicates, duplicates)
        ):  # fmt: skip
            if amount:
                counter.labels(name).inc(amount)
        if read or rejected:
            self.last_event.labels(name).set(self.clock())

    def set_silence(self, seconds: float) -> None:
        """The configured silence (`ingest.silence`): the `source silent` rule compares against it, so
        a deployment tunes the alert in egovops.toml instead of editing the shipped rule."""
        self.silence.set(seconds)

    def mark_poll(self) -> None:
        """The follower finished a round: `ingestion stalled` fires when this stops moving."""
        self.last_poll.set(self.clock())

    def set_follow_lag(self, dataset: str, unread_bytes: int) -> None:
        self.lag.labels(bounded(dataset)).set(unread_bytes)

    def observe_detection(self, seconds: float, alerts: Iterable[AlertLike] = ()) -> None:
        """One engine batch took `seconds` and raised `alerts`."""
        self.batch.observe(seconds)
        now = self.clock()
        for alert in alerts:
            self.alerts.labels(bounded(alert.rule_id), bounded(alert.severity)).inc()
            newest = datetime.fromisoformat(alert.last_seen.replace("Z", "+00:00")).timestamp()
            self.latency.observe(max(0.0, now - newest))

    def watch_engine(self, metrics: Callable[[], Mapping[str, int]]) -> None:
        """Read the detection engine's own counters (`Engine.metrics`) at every scrape; a later engine
        (a restarted detector) replaces the earlier one."""
        self._engine = metrics

    # -- collection ------------------------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        for metric in self._owned:
            yield from metric.collect()
        if self._engine is not None:
            yield from _engine_families(self._engine())


def _engine_families(reading: Mapping[str, int]) -> Iterator[Metric]:
    def total(key: str) -> int:
        return int(reading.get(key, 0))

    yield GaugeMetricFamily(
        "egovops_detection_window_groups", "Correlation windows held (per rule and group).", total("groups")
    )
    evictions = CounterMetricFamily(
        "egovops_detection_window_evictions", "Windows dropped before their horizon, by why.", labels=["kind"]
    )
    evictions.add_metric(["ttl"], total("evicted_ttl"))
    evictions.add_metric(["cap"], total("evicted_cap"))
    yield evictions
    yield CounterMetricFamily(
        "egovops_detection_events", "Events the detection engine has seen.", total("events")
    )
    yield CounterMetricFamily(
        "egovops_detection_late_matches", "Matches too late for their correlation windows.", total("late")
    )


CONTROL_PLANE = ControlPlaneMetrics()
"""This process's metrics; the functions below update it."""

count_ingest = CONTROL_PLANE.count_ingest
mark_poll = CONTROL_PLANE.mark_poll
set_follow_lag = CONTROL_PLANE.set_follow_lag
observe_detection = CONTROL_PLANE.observe_detection
watch_engine = CONTROL_PLANE.watch_engine
