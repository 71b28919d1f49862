"""An assessment (测评) of one system at one level: a result per item, the evidence behind it, and any
reviewer override — kept beside the result it overrides, with its reason, so both stay visible.

Collectors fill `checks` and `evidence`; a reviewer fills manual items or overrides; `results()` and
`problems()` are what the scoring reads (the override wins when present).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from secops.compliance.scoring import Problem, Result, Risk

_NO_RISK = (Result.COMPLIANT, Result.NOT_APPLICABLE)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvidenceKind(StrEnum):
    COMMAND = "command"  # raw output of a command run on a host
    CONFIG = "config"  # an excerpt of a device's running configuration
    API = "api"  # a record read from OpenStack or another API
    RECORD = "record"  # a count or record from egovops's own store
    DOCUMENT = "document"  # an attached document (policy, contract, report)
    SCREENSHOT = "screenshot"
    NOTE = "note"  # the reviewer's own observation


class Evidence(_Model):
    kind: EvidenceKind
    source: str = Field(min_length=1, description="check id, host or device, or attachment name")
    content: str = Field(description="raw output, excerpt or the attachment's path")
    collected_at: datetime


class CheckOutcome(_Model):
    """What one automated check found for this item."""

    check: str
    passed: bool
    evidence: tuple[Evidence, ...] = ()
    judged: bool = Field(True, description="False: the evidence says why the check could not decide")


def _risk_fits(result: Result, risk: Risk | None) -> None:
    if risk is not None and result in _NO_RISK:
        raise ValueError(f"a {result.value} item carries no risk (drop the risk or change the result)")


class Override(_Model):
    """A reviewer's judgement replacing the assessed result; the reason is required."""

    result: Result
    risk: Risk | None = None
    reason: str = Field(min_length=1)
    reviewer: str = Field(min_length=1)
    at: datetime

    @field_validator("reason")
    @classmethod
    def _said(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an override needs a written reason")
        return value.strip()

    @model_validator(mode="after")
    def _consistent(self) -> Override:
        _risk_fits(self.result, self.risk)
        return self


class ItemAssessment(_Model):
    """One item's result as assessed (by checks or a reviewer), and the override if any."""

    item_id: str
    result: Result
    risk: Risk | None = None
    checks: tuple[CheckOutcome, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    reviewer: str | None = None
    override: Override | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ItemAssessment:
        _risk_fits(self.result, self.risk)
        return self

    @property
    def final_result(self) -> Result:
        return self.override.result if self.override else self.result

    @property
    def final_risk(self) -> Risk | None:
        return self.override.risk if self.override else self.risk


class Assessment(_Model):
    """One system graded at one level against one catalogue and scoring version."""

    id: str = Field(min_length=1)
    system: str = Field(min_length=1)
    level: Literal[2, 3]
    cloud: bool = False
    target: str = Field(min_length=1, description="local, a host name, or the system's scope")
    created_at: datetime
    catalogue_versions: dict[str, str]
    scoring_version: str
    items: tuple[ItemAssessment, ...]

    @field_validator("items")
    @classmethod
    def _once_each(cls, value: tuple[ItemAssessment, ...]) -> tuple[ItemAssessment, ...]:
        twice = sorted(i for i, n in Counter(item.item_id for item in value).items() if n > 1)
        if twice:
            raise ValueError(f"items assessed twice: {', '.join(twice)}")
        return value

    def results(self) -> dict[str, Result]:
        return {item.item_id: item.final_result for item in self.items}

    def problems(self) -> list[Problem]:
        """One problem per item with a risk (after overrides), described by the override's reason if any."""
        return [
            Problem(items=(item.item_id,), risk=risk,
                    description=item.override.reason if item.override else "")
            for item in self.items
            if (risk := item.final_risk) is not None
        ]

    def failed_checks(self) -> set[str]:
        return {outcome.check for item in self.items for outcome in item.checks if not outcome.passed}
