"""The 测评 composite score (综合得分) and band (优/良/中/差), computed from data in `scoring/model.yaml`.

`score` is pure: item results and problems in, score and band out. A category's score is the weighted
share of its applicable items that comply (不适用 leaves the denominator); the composite is the weighted
mean of the categories that have applicable items, minus a deduction per problem by its risk. The band is
the first whose floor the score reaches and whose worst allowed risk the problems do not exceed, so any
high risk falls through to 差. `high_risks` applies the high-risk rules to results and failed checks.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from secops.compliance.loader import CatalogueError, Located, read_model
from secops.compliance.models import CATEGORIES, Catalogue

SCORING_MODEL = Path(__file__).parent / "scoring" / "model.yaml"


class Result(StrEnum):
    """单项判定 of one item (GB/T 28448-2019)."""

    COMPLIANT = "符合"
    PARTIAL = "部分符合"
    NON_COMPLIANT = "不符合"
    NOT_APPLICABLE = "不适用"


class Risk(StrEnum):
    """Risk of a problem found (安全问题风险等级)."""

    LOW = "低"
    MEDIUM = "中"
    HIGH = "高"

    @property
    def rank(self) -> int:
        return ("低", "中", "高").index(self.value)


class ScoringError(ValueError):
    """Results or problems that cannot be scored against the catalogue (unknown or missing items)."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Spec):
    id: str
    title: str
    used_for: str


class Band(_Spec):
    band: str
    min_score: float = Field(ge=0, le=100)
    worst_risk: Risk


class HighRiskRule(_Spec):
    """A high-risk scenario: where it is recorded, and what fires it automatically (if anything)."""

    id: str = Field(pattern=r"^HR-[A-Z]+-\d{2}$")
    title: str = Field(min_length=1)
    items: tuple[str, ...] = Field(min_length=1)
    checks: tuple[str, ...] = ()
    on_fail: bool = False


class ScoringModel(_Spec):
    """The scoring file: every number the composite score and band depend on."""

    schema_: Literal[1] = Field(alias="schema")
    version: str = Field(min_length=1)
    status: Literal["provisional", "reviewed"]
    sources: list[Source] = Field(min_length=1)
    results: dict[Result, float]
    category_weights: dict[str, float]
    item_weights: dict[str, float]
    deductions: dict[Risk, float]
    bands: list[Band] = Field(min_length=1)
    high_risk_rules: list[HighRiskRule]

    @field_validator("results")
    @classmethod
    def _result_values(cls, value: dict[Result, float]) -> dict[Result, float]:
        wanted = {Result.COMPLIANT, Result.PARTIAL, Result.NON_COMPLIANT}
        if set(value) != wanted:
            raise ValueError("give a value for exactly 符合, 部分符合 and 不符合 (不适用 is left out of the "
                             "denominator, so it has no value)")
        if any(not 0 <= v <= 1 for v in value.values()):
            raise ValueError("result values are shares between 0 and 1")
        return value

    @field_validator("category_weights")
    @classmethod
    def _all_categories(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(CATEGORIES):
            missing, extra = set(CATEGORIES) - set(value), set(value) - set(CATEGORIES)
            raise ValueError(f"weights must name the ten categories (missing: {'、'.join(missing) or '-'}; "
                             f"unknown: {'、'.join(extra) or '-'})")
        if any(w <= 0 for w in value.values()):
            raise ValueError("category weights must be positive")
        return value

    @field_validator("item_weights")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        if any(w <= 0 for w in value.values()):
            raise ValueError("item weights must be positive")
        return value

    @field_validator("deductions")
    @classmethod
    def _every_risk(cls, value: dict[Risk, float]) -> dict[Risk, float]:
        if set(value) != set(Risk) or any(v < 0 for v in value.values()):
            raise ValueError("give a deduction of 0 or more points for each of 高, 中 and 低")
        return value

    @field_validator("bands")
    @classmethod
    def _bands_cover(cls, value: list[Band]) -> list[Band]:
        floors = [b.min_score for b in value]
        if any(higher <= lower for higher, lower in pairwise(floors)):
            raise ValueError("list bands from the highest floor down, each floor lower than the one before")
        if value[-1].min_score != 0 or value[-1].worst_risk is not Risk.HIGH:
            raise ValueError("the last band needs min_score 0 and worst_risk 高, so every result gets a band")
        return value

    @field_validator("high_risk_rules")
    @classmethod
    def _unique_rules(cls, value: list[HighRiskRule]) -> list[HighRiskRule]:
        twice = [rule_id for rule_id, n in Counter(r.id for r in value).items() if n > 1]
        if twice:
            raise ValueError(f"rule ids used twice: {', '.join(twice)}")
        return value


class Problem(_Spec):
    """A problem found (安全问题): the items it concerns, its risk, and the rule that raised it if any."""

    items: tuple[str, ...] = Field(min_length=1)
    risk: Risk
    description: str = ""
    rule: str | None = None


class CategoryScore(_Spec):
    category: str
    applicable: int
    not_applicable: int
    score: float | None = Field(description="None when every item of the category is 不适用")


class Outcome(_Spec):
    """综合得分 and band, with what they were computed from."""

    score: float
    band: str
    worst_risk: Risk | None
    risks: dict[Risk, int]
    deductions: float
    categories: list[CategoryScore]
    model_version: str


def load_scoring_model(
    path: Path = SCORING_MODEL,
    *,
    known_items: Collection[str] | None = None,
    known_checks: Collection[str] | None = None,
) -> ScoringModel:
    """Read the scoring file; with `known_items`/`known_checks`, also refuse rules naming unknown ones."""
    model, located = read_model(path, ScoringModel)
    problems = list(_reference_problems(model, located, known_items, known_checks))
    if problems:
        raise CatalogueError(problems)
    return model


def _reference_problems(
    model: ScoringModel,
    located: Located,
    known_items: Collection[str] | None,
    known_checks: Collection[str] | None,
) -> Iterator[str]:
    at = located.at
    if known_items is not None:
        for item_id in model.item_weights:
            if item_id not in known_items:
                yield at(("item_weights", item_id), f"{item_id} is not a catalogue item (fix the id)")
    for n, rule in enumerate(model.high_risk_rules):
        for item_id in rule.items:
            if known_items is not None and item_id not in known_items:
                yield at(("high_risk_rules", n, "items"), f"{item_id} is not a catalogue item (fix the id)")
        for check in rule.checks:
            if known_checks is not None and check not in known_checks:
                yield at(("high_risk_rules", n, "checks"), f"{check} is not in checks.yaml (fix the name)")


def score(
    catalogue: Catalogue, results: Mapping[str, Result], problems: Sequence[Problem], model: ScoringModel
) -> Outcome:
    """The composite score and band of a complete set of results (one per catalogue item)."""
    items = catalogue.by_id()
    unknown = sorted(set(results) - set(items) | {i for p in problems for i in p.items} - set(items))
    if unknown:
        raise ScoringError(f"not items of this catalogue: {', '.join(unknown)}")
    missing = sorted(set(items) - set(results))
    if missing:
        raise ScoringError(f"{len(missing)} items have no result, e.g. {', '.join(missing[:5])}")

    earned: defaultdict[str, float] = defaultdict(float)
    possible: defaultdict[str, float] = defaultdict(float)
    excluded: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    for item_id, result in results.items():
        category = items[item_id].category
        if result is Result.NOT_APPLICABLE:
            excluded[category] += 1
            continue
        weight = model.item_weights.get(item_id, 1.0)
        earned[category] += weight * model.results[result]
        possible[category] += weight
        counted[category] += 1

    categories = []
    weighted, total_weight = 0.0, 0.0
    for category in CATEGORIES:
        if not counted[category] and not excluded[category]:
            continue
        share = 100 * earned[category] / possible[category] if possible[category] else None
        categories.append(CategoryScore(
            category=category, applicable=counted[category], not_applicable=excluded[category],
            score=None if share is None else round(share, 2),
        ))
        if share is not None:
            weighted += model.category_weights[category] * share
            total_weight += model.category_weights[category]

    risks = Counter(p.risk for p in problems)
    deductions = sum(model.deductions[p.risk] for p in problems)
    composite = round(max(0.0, (weighted / total_weight if total_weight else 100.0) - deductions), 2)
    worst = max(risks, key=lambda r: r.rank) if risks else None
    band = next(
        b.band for b in model.bands
        if composite >= b.min_score and (worst is None or worst.rank <= b.worst_risk.rank)
    )
    return Outcome(
        score=composite, band=band, worst_risk=worst, risks={r: risks[r] for r in Risk},
        deductions=deductions, categories=categories, model_version=model.version,
    )


def high_risks(
    catalogue: Catalogue,
    results: Mapping[str, Result],
    failed_checks: Collection[str],
    model: ScoringModel,
) -> list[Problem]:
    """The high-risk problems the rules raise: one per rule fired, on the assessed items it concerns.

    A failed check fires a rule on the items that name that check; `on_fail` rules fire on their items
    judged 不符合. Rules without triggers are left to reviewers.
    """
    items = catalogue.by_id()
    found = []
    for rule in model.high_risk_rules:
        present = [i for i in rule.items if i in items]
        by_check = [i for i in present if set(items[i].checks) & set(rule.checks) & set(failed_checks)]
        by_result = [i for i in present if rule.on_fail and results.get(i) is Result.NON_COMPLIANT]
        hit = tuple(dict.fromkeys([*by_check, *by_result]))
        if hit:
            found.append(Problem(items=hit, risk=Risk.HIGH, description=rule.title, rule=rule.id))
    return found
