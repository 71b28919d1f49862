"""Collectors that read the control plane's state when Prometheus scrapes: the event store (events per
dataset, dead letters, the Elasticsearch spool), the case store (incidents by state and severity, SLA
breaches, response actions by kind and state) and the audit trail (records, last verification).

Each read is cached for a TTL, so a scrape costs at most one read per TTL however often it comes, and
/metrics stays fast when the store is large: `Store.stats()` groups every event by day, and verifying the
audit chain walks the whole file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from egovops.audit import AuditTrail, Verification
    from secops.compliance.store import AssessmentStore, Summary
    from secops.drills.history import Run
    from secops.incidents.cases import CaseStore
    from secops.store import Stats, Store

T = TypeVar("T")

STORE_TTL = 30.0
CASES_TTL = 15.0
AUDIT_TTL = 300.0


class Ttl(Generic[T]):
    """The last value of `read`, read again once it is older than `ttl` seconds (one reader at a time)."""

    def __init__(
        self, read: Callable[[], T], ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.read, self.ttl, self.clock = read, ttl, clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._at = float("-inf")
        self.at_wall = 0.0
        """Wall-clock time of the last read (for `..._timestamp_seconds` gauges)."""

    def get(self) -> T:
        with self._lock:
            if self._value is None or self.clock() - self._at >= self.ttl:
                self._value = self.read()
                self._at = self.clock()
                self.at_wall = time.time()
            return self._value


class StoreCollector(Collector):
    def __init__(self, store: Store, ttl: float = STORE_TTL) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.stats: Ttl[Stats] = Ttl(self._read, ttl)

    def _read(self) -> Stats:
        with self.lock:
            return self.store.stats()

    def collect(self) -> Iterator[Metric]:
        from secops.store import StoreError

        try:
            stats = self.stats.get()
        except StoreError:  # Elasticsearch away: say so, and keep the rest of the scrape
            yield GaugeMetricFamily("egovops_store_up", "1 if the event store answered its last read.", 0)
            return
        yield GaugeMetricFamily("egovops_store_up", "1 if the event store answered its last read.", 1)
        events = GaugeMetricFamily(
            "egovops_store_events", "Events kept in the store, per dataset.", labels=["dataset"]
        )
        for dataset, count in sorted(stats.per_dataset.items()):
            events.add_metric([dataset], count)
        yield events
        yield GaugeMetricFamily(
            "egovops_store_dead_letters", "Records kept as dead letters.", stats.dead_letters
        )
        yield GaugeMetricFamily(
            "egovops_spool_events", "Documents waiting in the spool for Elasticsearch.", stats.spool_events
        )
        yield GaugeMetricFamily("egovops_spool_bytes", "Bytes waiting in the spool.", stats.spool_bytes)
        age = 0.0
        if stats.spool_oldest:
            oldest = datetime.fromisoformat(stats.spool_oldest.replace("Z", "+00:00"))
            age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        yield GaugeMetricFamily(
            "egovops_spool_oldest_age_seconds", "Age of the oldest spooled document.", age
        )


@dataclass(frozen=True)
class CaseFigures:
    incidents: dict[tuple[str, str], int]
    breaches: dict[tuple[str, str], int]
    actions: dict[tuple[str, str], int]


class CaseCollector(Collector):
    def __init__(self, cases: CaseStore, ttl: float = CASES_TTL) -> None:
        self.cases = cases
        self.figures: Ttl[CaseFigures] = Ttl(self._read, ttl)

    def _read(self) -> CaseFigures:
        from sqlalchemy import func, inspect, select

        from secops.incidents.schema import IncidentRow
        from secops.response.schema import ActionRow

        breaches = {key: len(numbers) for key, numbers in self.cases.sla_breaches().items()}
        with self.cases.reading() as session:
            by_state = select(IncidentRow.state, IncidentRow.severity, func.count()).group_by(
                IncidentRow.state, IncidentRow.severity
            )
            incidents = {(state, severity): n for state, severity, n in session.execute(by_state)}
            actions: dict[tuple[str, str], int] = {}
            if inspect(session.connection()).has_table(ActionRow.__tablename__):
                by_kind = select(ActionRow.kind, ActionRow.state, func.count()).group_by(
                    ActionRow.kind, ActionRow.state
                )
                actions = {(kind, state): n for kind, state, n in session.execute(by_kind)}
        return CaseFigures(incidents, breaches, actions)

    def collect(self) -> Iterator[Metric]:
        figures = self.figures.get()
        for name, text, labels, values in (
            ("egovops_incidents", "Incidents by lifecycle state and severity.", ["state", "severity"],
             figures.incidents),
            ("egovops_incident_sla_breaches", "Open incidents whose SLA clock is breached.",
             ["clock", "severity"], figures.breaches),
            ("egovops_response_actions", "Response actions by kind and state.", ["kind", "state"],
             figures.actions),
        ):  # fmt: skip
            family = GaugeMetricFamily(name, text, labels=labels)
            for key, count in sorted(values.items()):
                family.add_metric(list(key), count)
            yield family


class AuditCollector(Collector):
    def __init__(self, trail: AuditTrail, ttl: float = AUDIT_TTL) -> None:
        self.trail = trail
        self.verification: Ttl[Verification] = Ttl(trail.verify, ttl)

    def collect(self) -> Iterator[Metric]:
        result = self.verification.get()
        yield GaugeMetricFamily(
            "egovops_audit_records", "Records in the audit chain (its head's sequence).", result.records
        )
        yield GaugeMetricFamily(
            "egovops_audit_chain_valid",
            "1 if the last verification of the audit chain passed, else 0.",
            1 if result.ok else 0,
        )
        yield GaugeMetricFamily(
            "egovops_audit_verified_timestamp_seconds",
            "When the audit chain was last verified.",
            self.verification.at_wall,
        )


ASSESSMENTS_TTL = 300.0
BANDS = ("优", "良", "中", "差")
"""The 等保 bands the scoring model gives (secops/compliance/scoring)."""


class AssessmentCollector(Collector):
    """The latest 等保 score and band of every system assessed (the systems in the assessment store,
    as many as the estate has): `egovops_djcp_score{system, level}` and `egovops_djcp_band{…, band}`."""

    def __init__(self, store: AssessmentStore, ttl: float = ASSESSMENTS_TTL) -> None:
        self.store = store
        self.latest: Ttl[list[Summary]] = Ttl(self._read, ttl)

    def _read(self) -> list[Summary]:
        newest: dict[str, Summary] = {}
        for summary in self.store.summaries():  # newest first
            newest.setdefault(summary.system, summary)
        return [newest[system] for system in sorted(newest)]

    def collect(self) -> Iterator[Metric]:
        labels = ["system", "level"]
        score = GaugeMetricFamily(
            "egovops_djcp_score", "Score (0-100) of the system's latest 等保 assessment.", labels=labels
        )
        band = GaugeMetricFamily(
            "egovops_djcp_band",
            "1 for the band of the system's latest 等保 assessment.",
            labels=[*labels, "band"],
        )
        assessed = GaugeMetricFamily(
            "egovops_djcp_assessed_timestamp_seconds", "When the system was last assessed.", labels=labels
        )
        for summary in self.latest.get():
            where = [summary.system, str(summary.level)]
            assessed.add_metric(where, summary.created_at.timestamp())
            if summary.score is not None:
                score.add_metric(where, summary.score)
            if summary.band in BANDS:
                band.add_metric([*where, summary.band], 1)
        yield from (score, band, assessed)


DRILLS_TTL = 60.0


def aware(moment: datetime) -> datetime:
    """A time from a store that keeps naive UTC (the drill history) as an aware one."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class DrillCollector(Collector):
    """The latest drill of each scenario (`secops.drills.history`): score, coverage, when, and how many
    runs; nothing while no drill has been run (the history file is not created here)."""

    def __init__(self, path: Path, ttl: float = DRILLS_TTL) -> None:
        self.path = path
        self.runs: Ttl[list[Run]] = Ttl(self._read, ttl)

    def _read(self) -> list[Run]:
        from secops.drills.history import History

        if not self.path.exists():
            return []
        with History(self.path) as history:
            return history.runs()

    def collect(self) -> Iterator[Metric]:
        from monitors.metrics import bounded

        families = {
            name: GaugeMetricFamily(name, text, labels=["scenario"])
            for name, text in (
                ("egovops_drill_score", "Score of the scenario's latest drill."),
                ("egovops_drill_coverage_ratio", "Share of executed techniques the latest drill caught."),
                ("egovops_drill_last_run_timestamp_seconds", "When the scenario's latest drill started."),
                ("egovops_drill_runs", "Drills of the scenario in the history."),
            )
        }  # fmt: skip
        latest: dict[str, Run] = {}
        count: dict[str, int] = {}
        for run in self.runs.get():  # oldest first
            scenario = bounded(run.scenario)
            latest[scenario] = run
            count[scenario] = count.get(scenario, 0) + 1
        for scenario, run in sorted(latest.items()):
            families["egovops_drill_score"].add_metric([scenario], run.score)
            families["egovops_drill_coverage_ratio"].add_metric([scenario], run.coverage)
            families["egovops_drill_last_run_timestamp_seconds"].add_metric(
                [scenario], run.started.timestamp()
            )
            families["egovops_drill_runs"].add_metric([scenario], count[scenario])
        yield from families.values()
