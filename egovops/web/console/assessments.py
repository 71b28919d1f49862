"""What the auditor's assessment pages read: stored 等保 assessments (secops.compliance.store, in the case
database) as list rows and one assessment's overview, per-category counts and item table, and the 测评报告
written on demand by the same functions as `egovops compliance report`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from secops.compliance.assessment import ItemAssessment
from secops.compliance.report.formats import formats
from secops.compliance.report.model import Report, report_for
from secops.compliance.report.summary import evidence_rows, regrade
from secops.compliance.scoring import Result
from secops.compliance.store import AssessmentStore, Summary

REPORT_FORMATS = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
"""The report downloads and their media types; a format not named here is a 404, never a path."""
PENDING = "待复核"
"""An item no check decided and no reviewer has judged yet (it stays 不适用 until then)."""
COLUMNS = (*(r.value for r in Result), PENDING)
EVIDENCE_SHOWN = 200
"""Characters of an evidence excerpt shown before the rest is folded into a details element."""


@dataclass(frozen=True)
class Row:
    """One assessment in the list."""

    id: str
    system: str
    level: int
    cloud: bool
    target: str
    score: float
    band: str
    high_risks: int
    created_at: datetime


@dataclass(frozen=True)
class ItemRow:
    id: str
    category: str
    control_point: str
    result: str
    risk: str
    assessed_result: str
    override_reason: str
    reviewer: str
    pending: bool
    evidence: list[dict[str, Any]]


@dataclass(frozen=True)
class Detail:
    report: Report
    high_risks: list[Any]
    counts: dict[str, Counter[str]]
    items: list[ItemRow]


def rows(store: AssessmentStore, summaries: list[Summary]) -> list[Row]:
    """List rows of these assessments, scored again (the high-risk rules fired are not stored)."""
    return [_row(store, summary) for summary in summaries]


@lru_cache(maxsize=1024)
def _row(store: AssessmentStore, summary: Summary) -> Row:
    """Kept per summary (id, time, score, band): scoring one again takes 25-45 ms of CPU, most of a page
    of 50; the CLI stores each assessment under a new id, and a re-save with a new score misses."""
    graded = regrade(store.get(summary.id))
    new = graded.assessment
    return Row(
        new.id, new.system, new.level, new.cloud, new.target, graded.outcome.score, graded.outcome.band,
        len(graded.high_risks), new.created_at,
    )


def _pending(item: ItemAssessment) -> bool:
    return not item.checks and item.override is None and item.reviewer is None


def detail(store: AssessmentStore, assessment_id: str) -> Detail:
    """The assessment as its report tables it, with the evidence beside each item."""
    assessment = store.get(assessment_id)
    report = report_for(assessment)
    assessed = {item.item_id: item for item in assessment.items}
    counts: dict[str, Counter[str]] = {}
    items = []
    for table in report.categories:
        counts[table.category] = Counter()
        for row in table.items:
            pending = _pending(assessed[row.id])
            counts[table.category][PENDING if pending else row.result.value] += 1
            items.append(ItemRow(
                row.id, table.category, row.control_point, row.result.value,
                row.risk.value if row.risk else "", row.assessed_result.value if row.assessed_result else "",
                row.override_reason, row.reviewer, pending, evidence_rows(assessed[row.id]),
            ))  # fmt: skip
    return Detail(report, regrade(assessment).high_risks, counts, items)


def write_report(store: AssessmentStore, assessment_id: str, fmt: str, path: Path) -> None:
    """The report of a stored assessment in `fmt` (one of REPORT_FORMATS), as `compliance report` does."""
    formats()[fmt].write(report_for(store.get(assessment_id)), path)
