"""What changed between two assessments of a system (整改 tracking): items fixed, items regressed, and
problems that are new. Results compared are the final ones (after reviewer overrides)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from secops.compliance.assessment import Assessment, ItemAssessment
from secops.compliance.scoring import Result, Risk

_RANK = {Result.NON_COMPLIANT: 0, Result.PARTIAL: 1, Result.COMPLIANT: 2}
"""Better is higher; 不适用 has no rank, so an item moving to or from it is neither fixed nor regressed."""


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    before: Result | None
    after: Result
    before_risk: Risk | None
    after_risk: Risk | None


class AssessmentDiff(BaseModel):
    model_config = ConfigDict(frozen=True)

    before: str
    after: str
    fixed: list[Change]
    regressed: list[Change]
    new_problems: list[Change]


class IncomparableError(ValueError):
    """The two assessments are at different levels, so their item ids do not correspond."""


def diff(before: Assessment, after: Assessment) -> AssessmentDiff:
    """Items better, items worse, and risks that appear in `after` where `before` had none."""
    if before.level != after.level:
        raise IncomparableError(
            f"{before.id} is level {before.level} and {after.id} level {after.level}: "
            "compare assessments of the same level"
        )
    earlier = {item.item_id: item for item in before.items}
    fixed: list[Change] = []
    regressed: list[Change] = []
    new_problems: list[Change] = []
    for item in after.items:
        old = earlier.get(item.item_id)
        change = _change(old, item)
        then, now = _RANK.get(old.final_result) if old else None, _RANK.get(item.final_result)
        if then is not None and now is not None and now != then:
            (fixed if now > then else regressed).append(change)
        if item.final_risk is not None and (old is None or old.final_risk is None):
            new_problems.append(change)
    return AssessmentDiff(
        before=before.id, after=after.id, fixed=fixed, regressed=regressed, new_problems=new_problems
    )


def _change(old: ItemAssessment | None, new: ItemAssessment) -> Change:
    return Change(
        id=new.item_id,
        before=old.final_result if old else None,
        after=new.final_result,
        before_risk=old.final_risk if old else None,
        after_risk=new.final_risk,
    )
