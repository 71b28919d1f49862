"""What a bulletin says, read from the estate, the indicator history, the event store, the case store and
the assessment store for one month. Every figure is computed here, once; the PDF and the XLSX only lay
them out, so they cannot disagree.

Security figures, in the provincial plan's terms (seed 004):

- 封堵攻击源 (sources blocked): distinct addresses of blocking response actions (nft-deny, router-acl,
  waf-block) executed in the month, whether undone later or not;
- 通报预警 (warnings issued): 通报 sent in the month (and the incidents they were about);
- 修复漏洞 (vulnerabilities fixed): 等保 items fixed, comparing each assessment made in the month with the
  system's previous one (`secops.compliance.diff`) — the incidents carry no vulnerability category;
- 发现网页木马 (webshells found): alerts first seen in the month of rules tagged ATT&CK T1505.003 (Web Shell);
- 拦截攻击 (attacks blocked): WAF-intercepted requests and IDS drops (events of type `denied`);
- incidents raised in the month, by their state now.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from monitors.bulletin.period import Month
from monitors.departments import Utilisation, load_metering, targets, utilisation
from monitors.indicators import Figures, read_snapshots
from monitors.state import aware

if TYPE_CHECKING:
    from egovops.estate import Estate
    from secops.compliance.store import AssessmentStore, Summary
    from secops.drills.history import Run
    from secops.incidents.cases import CaseStore
    from secops.store import Store

BLOCKING_KINDS = ("nft-deny", "router-acl", "waf-block")
WEBSHELL_TAG = "attack.t1505.003"
WAF_DATASET, IDS_DATASET = "modsecurity.audit", "suricata.eve"
YEARLY_FROM_LEVEL = 3
"""等保 level from which a system is assessed every year."""
TREND_MONTHS = 12
TREND_INDICATORS = ("overall_utilisation", "vcpu_utilisation", "ram_utilisation", "on_cloud_rate",
                    "extranet_access_rate", "bandwidth_floor_compliance", "ipv6_readiness")  # fmt: skip
"""City ratios drawn in the trend chart, when the history has them."""


@dataclass(frozen=True)
class IndicatorRow:
    id: str
    name: str
    unit: str
    value: float | None
    target: float | None
    gap: float | None
    previous: float | None
    recorded: bool
    """True: the value is the month's last recorded snapshot; False: computed from the estate now."""

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return round(self.value - self.previous, 6)


@dataclass(frozen=True)
class Series:
    id: str
    name: str
    points: list[tuple[str, float]]


@dataclass(frozen=True)
class Security:
    sources_blocked: int = 0
    warnings_issued: int = 0
    incidents_notified: int = 0
    vulnerabilities_fixed: int = 0
    webshells_found: int = 0
    waf_blocked: int = 0
    ids_dropped: int = 0
    incidents_by_state: dict[str, int] = field(default_factory=dict)

    @property
    def attacks_blocked(self) -> int:
        return self.waf_blocked + self.ids_dropped


@dataclass(frozen=True)
class AssessmentLine:
    system: str
    department: str
    level: int
    assessed: date | None
    score: float | None
    band: str | None
    due: date | None
    """When the next assessment falls due (level 3 and above: a year after the last; none: now)."""


@dataclass(frozen=True)
class Bulletin:
    month: Month
    city: str
    indicators: list[IndicatorRow]
    trend: list[Series]
    ranking: list[Utilisation]
    ranking_target: float | None
    metered_at: date | None
    security: Security
    done: list[AssessmentLine]
    due: list[AssessmentLine]
    drills: list[Run] | None = None
    """Drills started in the month; None when no drill history exists (the section says so)."""


def indicator_rows(figures: Figures, history: Path, month: Month) -> tuple[list[IndicatorRow], list[Series]]:
    """The city's indicators for `month` (its last snapshot, else today's figures) with the change since
    the previous month's last snapshot, and the monthly series the trend chart draws."""
    monthly: dict[Month, dict[str, float]] = {}
    for day, values in read_snapshots(history):
        if Month.of(day) <= month:
            monthly[Month.of(day)] = values  # snapshots are oldest first: the month's last one wins
    now, before = monthly.get(month), monthly.get(month.previous(), {})
    rows = []
    for r in figures.readings:
        if r.county or r.department:
            continue
        value = now.get(r.key) if now is not None else r.value
        gap = None
        if value is not None and r.target is not None and r.target_scope == "city":
            gap = round(value - r.target, 6)
        target = r.target if r.target_scope == "city" else None
        rows.append(
            IndicatorRow(r.id, r.name, r.unit, value, target, gap, before.get(r.key), now is not None)
        )
    months = sorted(monthly)[-TREND_MONTHS:]
    names = {r.id: r.name for r in rows}
    series = []
    for indicator in TREND_INDICATORS:
        key = f"{indicator}||"
        points = [(str(m), monthly[m][key]) for m in months if key in monthly[m]]
        if points:
            series.append(Series(indicator, names.get(indicator, indicator), points))
    return rows, series


def security(store: Store, cases: CaseStore, assessments: AssessmentStore, month: Month) -> Security:
    from sqlalchemy import func, inspect, select

    from secops.incidents.schema import IncidentRow, Notification
    from secops.response.schema import ActionRow
    from secops.store import Query

    start, end = month.start, month.end
    with cases.reading() as session:
        by_state = (
            select(IncidentRow.state, func.count())
            .where(IncidentRow.created_at >= start, IncidentRow.created_at < end)
            .group_by(IncidentRow.state)
        )
        states = {state: n for state, n in session.execute(by_state)}
        sent = list(session.scalars(select(Notification.incident_id).where(
            Notification.at >= start, Notification.at < end
        )))  # fmt: skip
        blocked: set[str] = set()
        if inspect(session.connection()).has_table(ActionRow.__tablename__):
            executed = select(ActionRow.params).where(
                ActionRow.kind.in_(BLOCKING_KINDS),
                ActionRow.executed_at >= start,
                ActionRow.executed_at < end,
            )
            blocked = {str(params.get("address")) for params in session.scalars(executed)}
    webshells = sum(
        1
        for a in cases.alerts(since=start, limit=None)
        if WEBSHELL_TAG in a.tags and start <= a.first_seen < end
    )

    def denied(dataset: str) -> int:
        query = Query(
            fields={"event.type": "denied"}, since=start, until=end, datasets=(dataset,), limit=None
        )
        return store.count(query)

    return Security(
        sources_blocked=len(blocked), warnings_issued=len(sent), incidents_notified=len(set(sent)),
        vulnerabilities_fixed=fixed_items(assessments, month), webshells_found=webshells,
        waf_blocked=denied(WAF_DATASET), ids_dropped=denied(IDS_DATASET), incidents_by_state=states,
    )  # fmt: skip


def fixed_items(assessments: AssessmentStore, month: Month) -> int:
    """等保 items fixed: each assessment made in the month against the same system's previous one."""
    from secops.compliance.diff import diff

    total = 0
    history: dict[str, list[Summary]] = {}
    for summary in reversed(assessments.summaries()):  # oldest first
        history.setdefault(summary.system, []).append(summary)
    for summaries in history.values():
        for before, after in pairwise(summaries):
            if Month.of(after.created_at.date()) == month and before.level == after.level:
                total += len(diff(assessments.get(before.id), assessments.get(after.id)).fixed)
    return total


def assessment_lines(estate: Estate | None, assessments: AssessmentStore, month: Month) -> tuple[
    list[AssessmentLine], list[AssessmentLine]
]:  # fmt: skip
    """Assessments made in the month, and the estate's level-3+ systems due by its end (never assessed,
    or assessed more than a year before)."""
    owners = {s.name: t.title for t in (estate.tenants if estate else []) for s in t.systems}
    summaries = [s for s in assessments.summaries() if s.created_at < month.end]  # newest first
    done = [
        AssessmentLine(s.system, owners.get(s.system, ""), s.level, s.created_at.date(), s.score, s.band,
                       _next_due(s.level, s.created_at.date()))
        for s in summaries if s.created_at >= month.start
    ]  # fmt: skip
    latest: dict[str, Summary] = {}
    for s in summaries:
        latest.setdefault(s.system, s)
    due = []
    for tenant in estate.tenants if estate else []:
        for system in tenant.systems:
            if system.level < YEARLY_FROM_LEVEL:
                continue
            last = latest.get(system.name)
            when = _next_due(system.level, last.created_at.date()) if last else None
            if when is None or when <= month.last_day:
                due.append(AssessmentLine(
                    system.name, tenant.title, system.level, last.created_at.date() if last else None,
                    last.score if last else None, last.band if last else None, when,
                ))  # fmt: skip
    return sorted(done, key=lambda a: (a.assessed or date.min, a.system)), due


def _next_due(level: int, assessed: date) -> date | None:
    return assessed + timedelta(days=365) if level >= YEARLY_FROM_LEVEL else None


def department_ranking(
    estate: Estate | None, metering: Path | None, month: Month
) -> tuple[list[Utilisation], float | None, date | None]:
    """The departments ranked by utilisation, the target line (overall, else vCPU) and the metering date."""
    if estate is None or metering is None:
        return [], None, None
    found = load_metering(metering, estate)
    wanted = targets(estate, month.last_day)
    return utilisation(estate, found), wanted.get("overall", wanted.get("vcpu")), found.at


def drills_of(path: Path | None, month: Month) -> list[Run] | None:
    """The drills started in the month (`secops.drills.history`), each with its change since the
    scenario's previous run; None when there is no history file (it is not created here)."""
    from secops.drills.history import History

    if path is None or not path.exists():
        return None
    with History(path) as history:
        return [run for run in history.runs() if month.start <= aware(run.started) < month.end]


def incidents_by_state_zh(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Every lifecycle state in order, with its Chinese label, zero when none."""
    from secops.incidents.states import State

    tally = Counter(counts)
    return [(f"{s.zh}（{s.value}）", tally[s.value]) for s in State]


def gather(
    month: Month,
    *,
    store: Store,
    cases: CaseStore,
    assessments: AssessmentStore,
    estate_path: Path | None = None,
    targets_path: Path | None = None,
    history: Path = Path("var/indicators.jsonl"),
    metering: Path | None = None,
    drills: Path | None = None,
) -> Bulletin:
    """The bulletin of `month`; without an estate, the indicator, ranking and due sections are empty.
    Errors: EstateError and IndicatorError (a bad estate, targets or metering file) name the file."""
    from monitors.departments import default_metering
    from monitors.indicators import load_figures

    estate: Estate | None = None
    rows: list[IndicatorRow] = []
    trend: list[Series] = []
    if estate_path is not None:
        estate, figures = load_figures(estate_path, targets_path)
        rows, trend = indicator_rows(figures, history, month)
        metering = metering or default_metering(estate_path)
    ranking, line, metered_at = department_ranking(estate, metering, month)
    done, due = assessment_lines(estate, assessments, month)
    return Bulletin(
        month=month, city=estate.city if estate else "", indicators=rows, trend=trend, ranking=ranking,
        ranking_target=line, metered_at=metered_at, security=security(store, cases, assessments, month),
        done=done, due=due, drills=drills_of(drills, month),
    )  # fmt: skip
