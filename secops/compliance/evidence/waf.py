"""`soc.waf.blocking`: is the Web application firewall intercepting attacks, or only logging them?

Two kinds of evidence, each its own outcome (a check passes only where every judged one passed):
- the ModSecurity transactions in egovops's store over the period: an attack transaction (a rule of
  CRITICAL severity or worse, or an inbound anomaly score at the threshold) that was not intercepted is
  what DetectionOnly (or a disabled engine) looks like in the log; attacks all intercepted show blocking;
- a ModSecurity/Apache configuration (`--waf-config`): the effective `SecRuleEngine` (the last one read,
  following Include/IncludeOptional) must be `On`.
No events and no configuration, or no attack in the period with no engine mode recorded: not judged.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import Field

from secops.compliance.assessment import CheckOutcome, Evidence, EvidenceKind
from secops.compliance.evidence.conditions import RuleSpec
from secops.events import get
from secops.sources.modsecurity_model import SEVERITIES
from secops.store import Query, Store

CHECK = "soc.waf.blocking"
DATASET = "modsecurity.audit"
SHOWN = 10
"""Offending transactions listed in the evidence; the counts cover all of them."""
_DIRECTIVE = re.compile(r"^\s*(SecRuleEngine|Include|IncludeOptional)\s+\"?([^\"\s]+)\"?", re.IGNORECASE)
MAX_INCLUDE_DEPTH = 8


class WafConfigError(ValueError):
    """A WAF configuration that cannot be read."""


class WafRules(RuleSpec):
    within_days: int = Field(ge=1, description="the period whose transactions are read")
    anomaly_threshold: int = Field(ge=1, description="inbound anomaly score that makes an attack (CRS: 5)")
    severity: str = Field(description="a rule this severe or worse makes an attack (syslog order)")
    sample: int = Field(ge=1, description="not-intercepted alerts read to find the attacks among them")


def _outcome(
    passed: bool, source: str, kind: EvidenceKind, content: str, at: datetime, judged: bool = True
) -> CheckOutcome:
    evidence = Evidence(kind=kind, source=source, content=content, collected_at=at)
    return CheckOutcome(check=CHECK, passed=passed, evidence=(evidence,), judged=judged)


def is_attack(doc: dict[str, Any], rules: WafRules) -> bool:
    severity = get(doc, "event.severity")
    score = get(doc, "modsecurity.anomaly_score.inbound")
    return (isinstance(severity, int) and severity <= SEVERITIES.index(rules.severity.upper())) or (
        isinstance(score, int) and score >= rules.anomaly_threshold
    )


def _line(doc: dict[str, Any]) -> str:
    return (
        f"{get(doc, '@timestamp')} {get(doc, 'transaction.id')} {get(doc, 'source.ip', '?')} "
        f"{get(doc, 'message', '')} (engine {get(doc, 'modsecurity.engine_mode', 'not recorded')})"
    )


def judge_waf_events(store: Store, where: str, at: datetime, rules: WafRules) -> CheckOutcome:
    """The period's ModSecurity transactions: attacks let through fail it, attacks intercepted pass it."""
    since = at - timedelta(days=rules.within_days)
    total = store.count(Query(since=since, datasets=[DATASET], limit=None))
    intercepted = store.count(
        Query(fields={"event.action": "intercepted"}, since=since, datasets=[DATASET], limit=None)
    )
    detected = store.search(
        Query(fields={"event.action": "detected"}, since=since, datasets=[DATASET], limit=rules.sample)
    )
    passed_attacks = [doc for doc in detected if is_attack(doc, rules)]
    modes = sorted(
        {str(get(d, "modsecurity.engine_mode")) for d in detected if get(d, "modsecurity.engine_mode")}
    )
    content = (
        f"ModSecurity transactions since {since:%Y-%m-%d} ({rules.within_days} days): {total}; "
        f"intercepted: {intercepted}; rule matches let through: {len(detected)}"
        f"{'+' if len(detected) == rules.sample else ''}, of them attacks (severity "
        f"{rules.severity} or worse, or inbound anomaly score ≥ {rules.anomaly_threshold}): "
        f"{len(passed_attacks)}; engine modes recorded on them: {', '.join(modes) or 'none'}"
    )
    if passed_attacks:
        shown = "\n".join(_line(doc) for doc in passed_attacks[:SHOWN])
        return _outcome(
            False, where, EvidenceKind.RECORD, f"{content}\n-- not met: attacks not intercepted:\n{shown}", at
        )
    if intercepted:
        return _outcome(True, where, EvidenceKind.RECORD, content, at)
    enforcing = [m for m in modes if m.lower() not in ("enabled", "on")]
    if enforcing:
        return _outcome(
            False,
            where,
            EvidenceKind.RECORD,
            f"{content}\n-- not met: the engine ran in {', '.join(enforcing)}",
            at,
        )
    why = "no ModSecurity transactions" if not total else "no attack transaction, nothing intercepted"
    return _outcome(
        False,
        where,
        EvidenceKind.RECORD,
        f"{content}\ncannot decide: {why} in the period (give --waf-config FILE)",
        at,
        judged=False,
    )


def _directives(path: Path, depth: int = 0) -> Iterator[tuple[str, int, str]]:
    """(file, line, `SecRuleEngine` value) in reading order, Includes followed where they are read."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise WafConfigError(f"{path}: cannot read the WAF configuration: {exc.strerror or exc}") from exc
    for number, text in enumerate(lines, 1):
        match = _DIRECTIVE.match(text)
        if match is None:
            continue
        name, value = match.group(1).lower(), match.group(2)
        if name == "secruleengine":
            yield str(path), number, value
        elif depth < MAX_INCLUDE_DEPTH:
            pattern = value if Path(value).is_absolute() else str(path.parent / value)
            for found in sorted(glob.glob(pattern)):
                yield from _directives(Path(found), depth + 1)


def judge_waf_config(path: Path, at: datetime) -> CheckOutcome:
    """The effective SecRuleEngine of a configuration (the last read) must be On."""
    found = list(_directives(path))
    shown = "\n".join(f"{file}:{line}: SecRuleEngine {value}" for file, line, value in found)
    if not found:
        return _outcome(
            False,
            str(path),
            EvidenceKind.CONFIG,
            f"no SecRuleEngine directive in {path} or the files it includes (ModSecurity's "
            "default is Off; the directive may live in a file not given)",
            at,
            judged=False,
        )
    effective = found[-1][2]
    passed = effective.lower() == "on"
    verdict = "" if passed else f"\n-- not met: the effective SecRuleEngine is {effective}, not On"
    return _outcome(passed, str(path), EvidenceKind.CONFIG, shown + verdict, at)
