"""SOC evidence from egovops itself: log retention in the settings, what the event store holds per
source, whether the boundary IDS feeds it and detection rules are loaded, whether the WAF intercepts the
attacks it logs (`waf`), and whether the audit trail's SM3 hash chain verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field

from egovops.audit import AuditTrail
from egovops.config import Settings
from secops.compliance.assessment import CheckOutcome, Evidence, EvidenceKind
from secops.compliance.evidence.conditions import RuleSpec, read_rules
from secops.compliance.evidence.waf import CHECK as WAF_CHECK
from secops.compliance.evidence.waf import WafRules, judge_waf_events

RULES = Path(__file__).with_name("soc_rules.yaml")


class SocRules(RuleSpec):
    schema_: Literal[1] = Field(alias="schema")
    version: str
    retention_days: int = Field(ge=1)
    drills_within_days: int = Field(ge=1)
    ids_datasets: tuple[str, ...]
    coverage: dict[str, tuple[str, ...]]
    waf: WafRules


def load_soc_rules(path: Path = RULES) -> SocRules:
    return read_rules(path, SocRules)


def _outcome(check: str, passed: bool, source: str, content: str, at: datetime) -> CheckOutcome:
    evidence = Evidence(kind=EvidenceKind.RECORD, source=source, content=content, collected_at=at)
    return CheckOutcome(check=check, passed=passed, evidence=(evidence,))


def _from_store(
    settings: Settings, at: datetime, rules: SocRules
) -> tuple[dict[str, int], str, CheckOutcome]:
    """Events per dataset, where they were read, and the WAF's verdict on the period's transactions."""
    from secops.store import StoreError, open_store

    url = settings.store.url
    try:
        store = open_store(url, spool_dir=settings.store.spool_dir, index_prefix=settings.store.index_prefix)
        try:
            return dict(store.stats().per_dataset), url, judge_waf_events(store, url, at, rules.waf)
        finally:
            store.close()
    except (StoreError, OSError) as exc:
        where = f"{url}: unavailable ({exc})"
        unread = _outcome(WAF_CHECK, False, where, "the event store cannot be read: WAF mode unknown", at)
        return {}, where, unread.model_copy(update={"judged": False})


def _rules_loaded(settings: Settings) -> tuple[int, int]:
    from secops.detection.ruleset import BUILTIN_RULES, RuleSet

    rules = RuleSet.load([BUILTIN_RULES, *settings.detection.rules]) if settings.detection.enabled else None
    return (len(rules.rules) + len(rules.correlations), len(rules.failed)) if rules else (0, 0)


def _sla(settings: Settings, at: datetime) -> CheckOutcome:
    """Open incidents past their acknowledge or contain deadline (the SLA clocks of secops.incidents)."""
    from secops.incidents.cases import cases_url_for, open_cases
    from secops.store import StoreError

    url = cases_url_for(settings.store.url, settings.incidents)
    try:
        with open_cases(settings.store.url, settings=settings.incidents) as cases:
            breaches = cases.sla_breaches(at)
    except StoreError as exc:
        return _outcome("soc.alerts.sla", False, url, f"case store unavailable: {exc}", at)
    listed = "\n".join(f"{clock} {severity}: incidents {', '.join(map(str, sorted(numbers)))}"
                       for (clock, severity), numbers in sorted(breaches.items()))  # fmt: skip
    return _outcome("soc.alerts.sla", not breaches, url, listed or "no open incident past its SLA", at)


def _drills(settings: Settings, at: datetime, within_days: int) -> CheckOutcome:
    """The newest drill in the history (`egovops drill run`), against the period the rules allow."""
    from secops.drills.history import History

    path = settings.drills.history
    runs = []
    if path.exists():
        with History(path) as history:
            runs = history.runs()
    since = at - timedelta(days=within_days)
    recent = [r for r in runs if r.started.replace(tzinfo=r.started.tzinfo or UTC) >= since]
    shown = "\n".join(f"#{r.id} {r.scenario} {r.started:%Y-%m-%d} score {r.score} coverage {r.coverage:.0%}"
                      for r in runs[-10:])  # fmt: skip
    content = (f"{len(recent)} drill(s) since {since:%Y-%m-%d} ({within_days} days); last runs:\n"
               + (shown or f"none in {path}"))  # fmt: skip
    return _outcome("soc.drills.recent", bool(recent), str(path), content, at)


def collect_soc(settings: Settings, at: datetime, rules: SocRules) -> list[CheckOutcome]:
    retention = settings.retention
    short = {name: days for name, days in retention.datasets.items() if days < rules.retention_days}
    kept = (f"default_days = {retention.default_days}; per dataset: "
            f"{', '.join(f'{k} = {v}' for k, v in retention.datasets.items()) or 'none'}")  # fmt: skip
    counts, store, waf = _from_store(settings, at, rules)
    stored = "\n".join(f"{name}: {n}" for name, n in sorted(counts.items())) or "no events stored"
    ids = {d: counts.get(d, 0) for d in rules.ids_datasets}
    loaded, failed = _rules_loaded(settings)
    groups = {group: [d for d in datasets if counts.get(d)] for group, datasets in rules.coverage.items()}
    trail = AuditTrail(settings.response.audit_log)
    verdict = trail.verify() if settings.response.audit_log.exists() else None
    return [
        waf,
        _sla(settings, at),
        _drills(settings, at, rules.drills_within_days),
        _outcome(
            "soc.retention",
            retention.default_days >= rules.retention_days and not short,
            "settings [retention]",
            kept + (f"\nbelow {rules.retention_days} days: {short}" if short else ""),
            at,
        ),
        _outcome(
            "soc.ids.events",
            any(ids.values()) and loaded > 0,
            store,
            f"boundary IDS events: {ids}\ndetection rules loaded: {loaded} ({failed} failed to load)",
            at,
        ),
        _outcome(
            "soc.sources.coverage",
            all(groups.values()),
            store,
            stored + "\n-- groups: " + "; ".join(f"{g}: {', '.join(d) or 'none'}" for g, d in groups.items()),
            at,
        ),
        _outcome(
            "soc.audit_trail.verifies",
            verdict is not None and verdict.ok,
            str(settings.response.audit_log),
            f"no audit trail at {settings.response.audit_log}"
            if verdict is None
            else f"ok={verdict.ok} records={verdict.records} head={verdict.head}"
            + (f" first bad line {verdict.bad_line}: {verdict.reason}" if not verdict.ok else ""),
            at,
        ),
    ]
