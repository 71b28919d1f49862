"""Drill scenarios: ordered ATT&CK-tagged steps, each with an attacker action, the detections expected of
the SOC and a deadline, as YAML under `secops/drills/scenarios/`.

Every problem in a scenario file is reported as `file:line: path: what (fix)`; expected detections must
name a rule or correlation of the built-in pack (by name or id), so a typo cannot pass as a missed alert.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from egovops.estate import EstateError, describe_errors, line_at, read_located
from secops.drills.actions import Action

SCENARIOS = Path(__file__).with_name("scenarios")
RULES = Path(__file__).resolve().parents[1] / "detection" / "rules"
DOC = "docs/drills.md"

Technique = Annotated[
    str, Field(pattern=r"^T\d{4}(\.\d{3})?$", description="MITRE ATT&CK technique id, e.g. T1110.001")
]


class ScenarioError(ValueError):
    """A scenario cannot be used; each entry of `problems` is one `file:line: path: what (fix)` line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    technique: Technique
    description: str = ""
    action: Action
    expect: list[str] = Field(default_factory=list, description="rule or correlation names (or ids)")
    deadline_s: float = Field(gt=0, le=600, description="seconds after the step starts")
    blocking_expected: bool = Field(False, description="a 403 or a refused connection counts as a block")
    respond: Literal["nft-deny"] | None = Field(
        None, description="once detected, block the attacker on the range's router (undone after the drill)"
    )


class Scenario(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    description: str
    benign: bool = Field(False, description="no attack: any alert at all is a false positive")
    audit_rules: list[str] = Field(default_factory=list, description="auditctl rules loaded for the drill")
    incidental: list[str] = Field(
        default_factory=list, description="rules that may also fire on the attack: not required, not noise"
    )
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice (give each step its own)")
            seen.add(step.id)
        if self.benign and (self.expected() or self.incidental):
            raise ValueError("a benign scenario expects no detection (remove expect and incidental)")
        return self

    def expected(self) -> set[str]:
        return {rule for step in self.steps for rule in step.expect}


@cache
def builtin_rules() -> frozenset[str]:
    """Names and ids of the built-in rules and correlations, read from their YAML (no pySigma needed)."""
    known: set[str] = set()
    for path in sorted(RULES.glob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict):
                known.update(str(doc[k]) for k in ("name", "id") if k in doc)
    return frozenset(known)


def parse_scenario(text: str, source: str) -> Scenario:
    try:
        data, lines = read_located(text, source)
    except EstateError as exc:
        raise ScenarioError(exc.problems) from exc
    if data is None:
        raise ScenarioError([f"{source}:1: the file is empty (start from a scenario in {SCENARIOS})"])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(list(describe_errors(exc, source, lines, doc=DOC))) from exc
    unknown = [
        f"{source}:{line_at(lines, ('steps', n, 'expect', k))}: steps.{n}.expect.{k}: no built-in rule "
        f"{rule!r} (`egovops rules list` names them)"
        for n, step in enumerate(scenario.steps)
        for k, rule in enumerate(step.expect)
        if rule not in builtin_rules()
    ] + [
        f"{source}:{line_at(lines, ('incidental', k))}: incidental.{k}: no built-in rule {rule!r}"
        for k, rule in enumerate(scenario.incidental)
        if rule not in builtin_rules()
    ]
    if unknown:
        raise ScenarioError(unknown)
    return scenario


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read: {exc.strerror} (give an existing file)"]) from exc
    return parse_scenario(text, str(path))


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


def find_scenario(name: str) -> Scenario:
    """A shipped scenario by name, or a scenario file by path."""
    path = Path(name)
    if path.suffix in {".yaml", ".yml"}:
        return load_scenario(path)
    if name not in scenario_names():
        known = ", ".join(scenario_names())
        raise ScenarioError([f"no scenario {name!r}; `egovops drill list` names them: {known}"])
    return load_scenario(SCENARIOS / f"{name}.yaml")
