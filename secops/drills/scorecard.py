"""The scorecard of one drill: per step detected / missed / blocked and how fast, ATT&CK coverage as
techniques executed and detected (not rules installed), false positives, and a red/blue score.

Scoring, in the spirit of the 「粤盾」 exercises (docs/drills.md has the table): the blue team scores for
every attack step it detected within the deadline (more when fast) and for every block the scenario
expected; the red team scores for every attack step that went unseen and unblocked; a false positive costs
blue. `score` is blue minus red.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

BLUE_DETECTED = 10
BLUE_FAST = 5  # at most, scaled by the share of the deadline left
BLUE_BLOCKED = 5
RED_UNDETECTED = 10
FALSE_POSITIVE_COST = 5


class Gap(BaseModel):
    """An expected detection that did not come, and what the pipeline saw instead in the step's window."""

    rule: str | None = Field(None, description="the rule that should have fired (none: no rule covers it)")
    events: dict[str, int] = Field(default_factory=dict, description="events stored per dataset")
    fired: list[str] = Field(default_factory=list, description="rules that did fire in the window")
    note: str = ""


class StepOutcome(BaseModel):
    """What happened in one step, before scoring: the runner's measurements."""

    id: str
    technique: str
    expected: list[str]
    detections: dict[str, float] = Field(default_factory=dict, description="rule → seconds after the start")
    blocked: bool = False
    time_to_respond_s: float | None = None
    response: str | None = Field(None, description="the response action taken, or why it failed")
    gaps: list[Gap] = Field(default_factory=list)
    attack: bool = True
    action: dict[str, object] = Field(default_factory=dict, description="the attacker's ActionResult")


class StepScore(StepOutcome):
    detected: bool
    time_to_detect_s: float | None


class FalsePositive(BaseModel):
    rule: str
    title: str
    severity: str
    entity: dict[str, object] = Field(default_factory=dict)


class Scorecard(BaseModel):
    id: int | None = None
    scenario: str
    started: datetime
    finished: datetime
    steps: list[StepScore]
    coverage: float = Field(ge=0, le=1)
    techniques_executed: list[str]
    techniques_detected: list[str]
    false_positives: list[FalsePositive]
    blue: int
    red: int
    score: int


def score_step(outcome: StepOutcome, deadline_s: float) -> StepScore:
    """Detected: every expected rule fired within the deadline; a step expecting nothing is not detected."""
    times = [outcome.detections.get(rule) for rule in outcome.expected]
    on_time = [t for t in times if t is not None and t <= deadline_s]
    detected = bool(outcome.expected) and len(on_time) == len(times)
    return StepScore(
        **outcome.model_dump(),
        detected=detected,
        time_to_detect_s=round(max(on_time), 3) if detected else None,
    )


def points(step: StepScore, deadline_s: float) -> tuple[int, int]:
    """(blue, red) for one attack step."""
    if not step.attack:
        return 0, 0
    blue = BLUE_BLOCKED if step.blocked else 0
    if step.detected and step.time_to_detect_s is not None:
        fast = max(0.0, 1 - step.time_to_detect_s / deadline_s)
        return blue + BLUE_DETECTED + round(BLUE_FAST * fast), 0
    return blue, 0 if step.blocked else RED_UNDETECTED


def scorecard(
    scenario: str,
    started: datetime,
    finished: datetime,
    outcomes: list[tuple[StepOutcome, float]],
    false_positives: list[FalsePositive],
) -> Scorecard:
    """Score the runner's outcomes (each with its step's deadline)."""
    steps = [score_step(outcome, deadline) for outcome, deadline in outcomes]
    blue = red = 0
    for step, (_, deadline) in zip(steps, outcomes, strict=True):
        b, r = points(step, deadline)
        blue, red = blue + b, red + r
    blue -= FALSE_POSITIVE_COST * len(false_positives)  # noise can take blue below zero
    executed = sorted({s.technique for s in steps if s.attack})
    detected = sorted(t for t in executed if all(s.detected for s in steps if s.attack and s.technique == t))
    return Scorecard(
        scenario=scenario,
        started=started,
        finished=finished,
        steps=steps,
        coverage=round(len(detected) / len(executed), 4) if executed else 1.0,
        techniques_executed=executed,
        techniques_detected=detected,
        false_positives=false_positives,
        blue=blue,
        red=red,
        score=blue - red,
    )
