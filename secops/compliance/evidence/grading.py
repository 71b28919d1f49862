"""From check outcomes to item results: the items the checks decide, with evidence and risk, and every
other item 不适用 pending a reviewer (manual items, or checks whose source was not collected)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from secops.compliance.assessment import CheckOutcome, Evidence, EvidenceKind, ItemAssessment
from secops.compliance.evidence.conditions import RuleSpec, read_rules
from secops.compliance.models import Catalogue, Item
from secops.compliance.scoring import Result, Risk, ScoringModel, high_risks

RULES = Path(__file__).with_name("grading.yaml")
PENDING = "pending manual review"
"""The note on an item no automated check decided: it stays 不适用 until a reviewer judges it."""

_ORDER = (Result.COMPLIANT, Result.PARTIAL, Result.NON_COMPLIANT)


class OnFail(RuleSpec):
    result: Literal[Result.PARTIAL, Result.NON_COMPLIANT]
    risk: Risk


class Grading(RuleSpec):
    schema_: Literal[1] = Field(alias="schema")
    version: str
    default: OnFail
    checks: dict[str, OnFail] = Field(default_factory=dict)

    def on_fail(self, check: str) -> OnFail:
        return self.checks.get(check, self.default)


def load_grading(path: Path = RULES) -> Grading:
    return read_rules(path, Grading)


def merge(outcomes: Iterable[CheckOutcome]) -> dict[str, CheckOutcome]:
    """One outcome per check across targets: it passes only where every target passed."""
    grouped: defaultdict[str, list[CheckOutcome]] = defaultdict(list)
    for outcome in outcomes:
        grouped[outcome.check].append(outcome)
    merged = {}
    for check, group in grouped.items():
        judged = [o for o in group if o.judged] or group  # a target that could not decide does not veto
        merged[check] = CheckOutcome(
            check=check,
            passed=all(o.passed for o in judged),
            evidence=tuple(e for o in group for e in o.evidence),
            judged=judged[0].judged,
        )
    return merged


def _item(item: Item, outcomes: dict[str, CheckOutcome], grading: Grading, at: datetime) -> ItemAssessment:
    ran = [outcomes[check] for check in item.checks if check in outcomes and outcomes[check].judged]
    if not ran:
        undecided = [outcomes[check] for check in item.checks if check in outcomes]
        missing = [check for check in item.checks if check not in outcomes]
        why = [f"checks not collected: {', '.join(missing)}"] if missing else []
        why += [f"{o.check} not judged" for o in undecided]
        note = Evidence(kind=EvidenceKind.NOTE, source="egovops", collected_at=at,
                        content=PENDING + (f" ({'; '.join(why)})" if why else ""))  # fmt: skip
        evidence = (note, *(e for o in undecided for e in o.evidence))
        return ItemAssessment(item_id=item.id, result=Result.NOT_APPLICABLE, evidence=evidence)
    failed = [grading.on_fail(o.check) for o in ran if not o.passed]
    result = max((f.result for f in failed), key=_ORDER.index, default=Result.COMPLIANT)
    risk = max((f.risk for f in failed), key=lambda r: r.rank, default=None)
    return ItemAssessment(item_id=item.id, result=result, risk=risk, checks=tuple(ran))


def grade(
    catalogue: Catalogue,
    outcomes: Iterable[CheckOutcome],
    model: ScoringModel,
    grading: Grading,
    at: datetime,
) -> list[ItemAssessment]:
    """One assessment per catalogue item, high-risk rules applied to the items they fire on."""
    merged = merge(outcomes)
    items = [_item(item, merged, grading, at) for item in catalogue.items]
    results = {i.item_id: i.result for i in items}
    failed = {check for check, outcome in merged.items() if not outcome.passed}
    raised = {item_id for p in high_risks(catalogue, results, failed, model) for item_id in p.items}
    return [
        i.model_copy(update={"risk": Risk.HIGH})
        if i.item_id in raised and i.result in (Result.PARTIAL, Result.NON_COMPLIANT)
        else i
        for i in items
    ]
