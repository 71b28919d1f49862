"""The control plane's metrics: hot-path counters, the scrape-time collectors on a real SQLite store, case
store and audit trail, and the rule that no label can take unbounded values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from egovops.audit import AuditTrail
from egovops.config import Settings
from monitors.exporter import build_registry
from monitors.metrics import ALLOWED_LABELS, ControlPlaneMetrics, bounded
from monitors.state import AuditCollector, CaseCollector, Ttl
from secops.detection.alerts import Alert
from secops.events import format_ts
from secops.incidents.cases import CaseStore
from secops.incidents.grouping import record_alerts
from tests.monitors.estates import write_estate

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def fresh(metrics: ControlPlaneMetrics) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    return registry


def settings_in(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {"store": {"url": f"sqlite:///{tmp_path / 'egovops.db'}", "spool_dir": str(tmp_path / "spool")},
         "response": {"audit_log": str(tmp_path / "audit.log")}}
    )  # fmt: skip


def test_count_ingest_adds_per_dataset_and_stamps_the_last_record() -> None:
    metrics = ControlPlaneMetrics(clock=lambda: 1_700_000_000.0)
    registry = fresh(metrics)
    metrics.count_ingest("suricata.eve", read=10, stored=8, duplicates=1, rejected=1)
    metrics.count_ingest("suricata.eve", read=5, stored=5)
    metrics.count_ingest("system.auth", read=0)
    assert sample(registry, "egovops_ingest_events_read_total", dataset="suricata.eve") == 15
    assert sample(registry, "egovops_ingest_events_stored_total", dataset="suricata.eve") == 13
    assert sample(registry, "egovops_ingest_events_duplicate_total", dataset="suricata.eve") == 1
    assert sample(registry, "egovops_ingest_events_rejected_total", dataset="suricata.eve") == 1
    assert sample(registry, "egovops_ingest_last_event_timestamp_seconds", dataset="suricata.eve") == 1.7e9
    assert sample(registry, "egovops_ingest_last_event_timestamp_seconds", dataset="system.auth") is None


def test_a_label_value_that_is_not_a_name_is_counted_as_other() -> None:
    assert [bounded(v) for v in ("suricata.eve", "10.0.0.1", "2001:db8::1", "GET /admin", "x" * 65)] == [
        "suricata.eve", "other", "other", "other", "other"
    ]  # fmt: skip
    metrics = ControlPlaneMetrics()
    registry = fresh(metrics)
    metrics.count_ingest("192.168.1.20", read=3)
    assert sample(registry, "egovops_ingest_events_read_total", dataset="other") == 3


@dataclass(frozen=True)
class _Alert:
    rule_id: str
    severity: str
    last_seen: str


def test_detection_latency_and_alerts_per_rule() -> None:
    metrics = ControlPlaneMetrics(clock=NOW.timestamp)
    registry = fresh(metrics)
    alerts = [
        _Alert("ssh-brute-force", "high", format_ts(NOW - timedelta(seconds=3))),
        _Alert("ssh-brute-force", "high", format_ts(NOW - timedelta(seconds=90))),
    ]
    metrics.observe_detection(0.02, alerts)
    assert sample(registry, "egovops_alerts_total", rule="ssh-brute-force", severity="high") == 2
    assert sample(registry, "egovops_detection_latency_seconds_bucket", le="5.0") == 1
    assert sample(registry, "egovops_detection_latency_seconds_bucket", le="120.0") == 2
    assert sample(registry, "egovops_detection_batch_duration_seconds_count") == 1


def test_engine_counters_are_read_at_scrape_time() -> None:
    metrics = ControlPlaneMetrics()
    registry = fresh(metrics)
    counters = {"groups": 3, "evicted_ttl": 1, "evicted_cap": 0, "events": 10, "late": 2}
    metrics.watch_engine(lambda: counters)
    assert sample(registry, "egovops_detection_window_groups") == 3
    counters["groups"] = 7
    assert sample(registry, "egovops_detection_window_groups") == 7
    assert sample(registry, "egovops_detection_window_evictions_total", kind="ttl") == 1
    assert sample(registry, "egovops_detection_events_total") == 10


def alert(key: str, severity: str, at: datetime) -> Alert:
    return Alert(
        id=key, rule_id="ssh-brute-force", title="SSH brute force", severity=severity,
        entity={"source.ip": f"203.0.113.{len(key)}"}, event_ids=[f"e-{key}"], tags=[],
        first_seen=format_ts(at), last_seen=format_ts(at), count=1,
    )  # fmt: skip


def test_incidents_by_state_and_sla_breaches(tmp_path: Path) -> None:
    clock = [NOW]
    cases = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}", clock=lambda: clock[0])
    record_alerts(cases, [alert("a", "critical", NOW), alert("bb", "low", NOW)])
    collector = CaseCollector(cases, ttl=0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    assert sample(registry, "egovops_incidents", state="new", severity="critical") == 1
    assert sample(registry, "egovops_incidents", state="new", severity="low") == 1
    assert sample(registry, "egovops_incident_sla_breaches", clock="acknowledge", severity="critical") is None
    clock[0] = NOW + timedelta(minutes=20)  # critical: acknowledge within 15 minutes
    assert sample(registry, "egovops_incident_sla_breaches", clock="acknowledge", severity="critical") == 1
    assert sample(registry, "egovops_incident_sla_breaches", clock="acknowledge", severity="low") is None


def test_audit_chain_verification_result(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.log")
    for n in range(3):
        trail.append("admin", "tenant.apply", f"tenant:t{n}", {})
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AuditCollector(trail, ttl=0))
    assert sample(registry, "egovops_audit_records") == 3
    assert sample(registry, "egovops_audit_chain_valid") == 1
    lines = trail.path.read_text().splitlines()
    trail.path.write_text("\n".join([lines[0], lines[2]]) + "\n")  # a record deleted
    assert sample(registry, "egovops_audit_chain_valid") == 0


def test_expensive_reads_are_cached_for_their_ttl() -> None:
    reads: list[int] = []
    now = [0.0]

    def read() -> int:
        reads.append(1)
        return len(reads)

    cache = Ttl(read, ttl=30, clock=lambda: now[0])
    assert [cache.get(), cache.get()] == [1, 1]
    now[0] = 31
    assert cache.get() == 2


def test_store_state_and_every_label_is_bounded(tmp_path: Path) -> None:
    """Every metric /metrics can show, with every collector present, uses only the allowed label names."""
    metrics = ControlPlaneMetrics()
    metrics.count_ingest("suricata.eve", read=1, stored=1)
    metrics.set_follow_lag("suricata.eve", 10)
    metrics.mark_poll()
    metrics.observe_detection(0.01, [_Alert("r1", "high", format_ts(NOW))])
    metrics.watch_engine(lambda: {"groups": 1})
    settings = settings_in(tmp_path)
    AuditTrail(settings.response.audit_log).append("admin", "x", "y", {})
    estate = write_estate(tmp_path / "estate.yaml", slow_towns=1)
    registry = build_registry(settings, estate=estate, metrics=metrics)
    names: set[str] = set()
    for family in registry.collect():
        assert family.name.startswith("egovops_"), family.name
        names.add(family.name)
        for s in family.samples:
            extra = set(s.labels) - ALLOWED_LABELS - {"le"}
            assert not extra, f"{s.name} has unbounded label(s) {extra}"
    assert {"egovops_store_events", "egovops_store_dead_letters", "egovops_spool_events",
            "egovops_audit_chain_valid", "egovops_indicator_value", "egovops_indicator_target",
            "egovops_network_sites_below_floor", "egovops_ingest_lag_bytes"} <= names  # fmt: skip
    assert sample(registry, "egovops_store_up") == 1
    assert sample(registry, "egovops_spool_events") == 0
    assert b"egovops_indicator_value{" in generate_latest(registry)
