"""An assessment as `egovops compliance assess --json` prints it, for fresh and stored assessments alike,
so the CLI and the console's API answer in one shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from secops.compliance.evidence.assess import Graded
from secops.compliance.loader import load_catalogue
from secops.compliance.scoring import high_risks, load_scoring_model, score

if TYPE_CHECKING:
    from secops.compliance.assessment import Assessment, ItemAssessment
    from secops.compliance.diff import AssessmentDiff


def regrade(assessment: Assessment) -> Graded:
    """A stored assessment scored with the catalogue and model egovops ships, as `assess` returned it."""
    catalogue = load_catalogue(assessment.level, cloud=assessment.cloud)
    model = load_scoring_model()
    results = assessment.results()
    return Graded(
        assessment=assessment,
        outcome=score(catalogue, results, assessment.problems(), model),
        high_risks=high_risks(catalogue, results, assessment.failed_checks(), model),
    )


def evidence_rows(item: ItemAssessment) -> list[dict[str, Any]]:
    """Each piece of evidence with the check it backs (None for a reviewer's own evidence)."""
    rows = [
        {"check": outcome.check, "passed": outcome.passed, "kind": e.kind.value, "source": e.source,
         "content": e.content}
        for outcome in item.checks for e in outcome.evidence
    ]  # fmt: skip
    notes = [{"check": None, "passed": None, "kind": e.kind.value, "source": e.source, "content": e.content}
             for e in item.evidence]  # fmt: skip
    return rows + notes


def assessment_json(graded: Graded, changes: AssessmentDiff | None = None) -> dict[str, Any]:
    new = graded.assessment
    return {
        "id": new.id, "system": new.system, "level": new.level, "cloud": new.cloud, "target": new.target,
        "score": graded.outcome.score, "band": graded.outcome.band,
        "high_risks": [p.model_dump(mode="json") for p in graded.high_risks],
        "items": [
            {"id": item.item_id, "result": item.result.value, "risk": item.risk.value if item.risk else None,
             "manual": not item.checks, "evidence": evidence_rows(item)}
            for item in new.items
        ],
        "diff": changes.model_dump(mode="json") if changes else None,
    }  # fmt: skip
