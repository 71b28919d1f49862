"""The report as one format-neutral model, and its SM3 digest.

Every format renders this model and nothing else, so one digest covers all four: SM3 over the model's
canonical JSON (keys sorted, no insignificant whitespace, UTF-8, non-ASCII kept). The model holds only what
follows from the stored assessment and the data files — no rendering time — so rebuilding it from the store
gives the same bytes, which is what `verify` relies on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from pydantic import BaseModel, ConfigDict

from secops.compliance.assessment import Assessment, ItemAssessment
from secops.compliance.loader import load_catalogue
from secops.compliance.models import CATEGORIES, Catalogue, Item, Part
from secops.compliance.report.advice import Advice, load_advice
from secops.compliance.scoring import Result, Risk, ScoringModel, high_risks, load_scoring_model, score

SCHEMA = 1
NEEDS_ADVICE = (Result.NON_COMPLIANT, Result.PARTIAL)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportItem(_Model):
    """One row of a category table: the final result, and the assessed one when a reviewer overrode it."""

    id: str
    part: Part
    control_point: str
    text: str
    result: Result
    risk: Risk | None
    assessed_result: Result | None = None
    assessed_risk: Risk | None = None
    override_reason: str = ""
    reviewer: str = ""
    failed_checks: tuple[str, ...] = ()
    advice: str = ""


class CategoryTable(_Model):
    category: str
    score: float | None
    items: tuple[ReportItem, ...]


class ReportProblem(_Model):
    """A problem found (安全问题) and the high-risk rules (高风险判定) its item matches."""

    item: str
    category: str
    control_point: str
    risk: Risk
    description: str
    rules: tuple[str, ...] = ()


class Report(_Model):
    """The 测评报告: overview and level, scope, per-category tables, problems, score and band, advice."""

    schema_version: int = SCHEMA
    assessment_id: str
    system: str
    level: int
    cloud: bool
    target: str
    assessed_at: datetime
    catalogue_versions: dict[str, str]
    scoring_version: str
    advice_version: str
    scope: str
    counts: dict[Result, int]
    score: float
    band: str
    risks: dict[Risk, int]
    categories: tuple[CategoryTable, ...]
    problems: tuple[ReportProblem, ...]

    def canonical(self) -> bytes:
        """The bytes the digest is taken over (docs/compliance.md, 'What the SM3 digest covers')."""
        data = self.model_dump(mode="json")
        return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()

    def digest(self) -> str:
        """SM3 of `canonical()`, lower-case hex."""
        sm3 = hashes.Hash(hashes.SM3())
        sm3.update(self.canonical())
        return sm3.finalize().hex()


def build_report(assessment: Assessment, catalogue: Catalogue, model: ScoringModel, advice: Advice) -> Report:
    """The report of `assessment`, scored with `model` over `catalogue` (its level and cloud choice)."""
    results, problems = assessment.results(), assessment.problems()
    outcome = score(catalogue, results, problems, model)
    rules_by_item: defaultdict[str, list[str]] = defaultdict(list)
    for fired in high_risks(catalogue, results, assessment.failed_checks(), model):
        for item_id in fired.items:
            rules_by_item[item_id].append(f"{fired.rule} {fired.description}")
    assessed = {item.item_id: item for item in assessment.items}
    rows: defaultdict[str, list[ReportItem]] = defaultdict(list)
    for item in catalogue.items:
        rows[item.category].append(_row(assessed[item.id], item, advice))
    scores = {c.category: c.score for c in outcome.categories}
    items = catalogue.by_id()
    general = sum(item.part is Part.GENERAL for item in catalogue.items)
    scope = (f"{assessment.target}：安全通用要求第{assessment.level}级 {general} 项"
             + (f"，云计算安全扩展要求 {len(catalogue.items) - general} 项" if assessment.cloud else ""))
    return Report(
        assessment_id=assessment.id, system=assessment.system, level=assessment.level,
        cloud=assessment.cloud, target=assessment.target, assessed_at=assessment.created_at,
        catalogue_versions=dict(assessment.catalogue_versions), scoring_version=model.version,
        advice_version=advice.version, scope=scope,
        counts={r: sum(v is r for v in results.values()) for r in Result},
        score=outcome.score, band=outcome.band, risks=outcome.risks,
        categories=tuple(CategoryTable(category=c, score=scores.get(c), items=tuple(rows[c]))
                         for c in CATEGORIES if rows[c]),
        problems=tuple(
            ReportProblem(item=p.items[0], category=items[p.items[0]].category,
                          control_point=items[p.items[0]].control_point, risk=p.risk,
                          description=p.description or items[p.items[0]].text,
                          rules=tuple(rules_by_item[p.items[0]]))
            for p in sorted(problems, key=lambda p: -p.risk.rank)
        ),
    )


def _row(assessed: ItemAssessment, item: Item, advice: Advice) -> ReportItem:
    failed = tuple(outcome.check for outcome in assessed.checks if not outcome.passed)
    override = assessed.override
    return ReportItem(
        id=item.id, part=item.part, control_point=item.control_point, text=item.text,
        result=assessed.final_result, risk=assessed.final_risk,
        assessed_result=assessed.result if override else None,
        assessed_risk=assessed.risk if override else None,
        override_reason=override.reason if override else "",
        reviewer=(override.reviewer if override else assessed.reviewer) or "",
        failed_checks=failed,
        advice=advice.for_item(item, failed) if assessed.final_result in NEEDS_ADVICE else "",
    )


def report_for(assessment: Assessment) -> Report:
    """The report of `assessment` with the data files egovops ships (catalogue, scoring model, advice)."""
    catalogue = load_catalogue(assessment.level, cloud=assessment.cloud)
    return build_report(assessment, catalogue, load_scoring_model(), load_advice(catalogue))
