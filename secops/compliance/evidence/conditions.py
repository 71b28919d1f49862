"""The small rule language the host and network rules files share: lines that must appear, lines that
must not, and numbers that must lie within bounds — regexes over text (command output or a block of a
configuration), multi-line and case-insensitive."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, field_validator

from secops.compliance.loader import read_model

M = TypeVar("M", bound=BaseModel)


@cache
def pattern(text: str) -> re.Pattern[str]:
    return re.compile(text, re.MULTILINE | re.IGNORECASE)


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bounds(RuleSpec):
    """Every match of `pattern`'s first group is a number within [min, max], and there is one."""

    pattern: str
    min: float | None = None
    max: float | None = None


class Conditions(RuleSpec):
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    numbers: tuple[Bounds, ...] = ()

    @field_validator("require", "forbid")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            try:
                pattern(text)
            except re.error as exc:
                raise ValueError(f"{text!r} is not a valid regular expression: {exc}") from exc
        return value


@dataclass
class Verdict:
    """Why the conditions failed (empty: they hold) and the lines that decided it."""

    failures: list[str] = field(default_factory=list)
    excerpt: list[str] = field(default_factory=list)

    def add(self, other: Verdict) -> None:
        self.failures.extend(other.failures)
        self.excerpt.extend(line for line in other.excerpt if line not in self.excerpt)


def _line(text: str, match: re.Match[str]) -> str:
    """The whole line a match sits on: evidence reads better as the configuration or output line."""
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return text[start : end if end >= 0 else len(text)].strip()


def _lines(text: str, regex: re.Pattern[str]) -> list[str]:
    return list(dict.fromkeys(_line(text, match) for match in regex.finditer(text)))


def judge(conditions: Conditions, text: str, where: str = "") -> Verdict:
    verdict = Verdict()
    suffix = f" in {where}" if where else ""
    for required in conditions.require:
        found = _lines(text, pattern(required))
        verdict.excerpt.extend(found)
        if not found:
            verdict.failures.append(f"missing /{required}/{suffix}")
    for forbidden in conditions.forbid:
        found = _lines(text, pattern(forbidden))
        verdict.excerpt.extend(found)
        verdict.failures.extend(f"found {line!r}{suffix}" for line in found)
    for bounds in conditions.numbers:
        matches = list(pattern(bounds.pattern).finditer(text))
        verdict.excerpt.extend(_line(text, m) for m in matches)
        if not matches:
            verdict.failures.append(f"missing /{bounds.pattern}/{suffix}")
        for match in matches:
            number = float(match.group(1))
            if (bounds.min is not None and number < bounds.min) or (
                bounds.max is not None and number > bounds.max
            ):
                verdict.failures.append(
                    f"{_line(text, match)!r} outside [{bounds.min}, {bounds.max}]{suffix}"
                )
    return verdict


def read_rules(path: Path, model: type[M]) -> M:
    """A rules file, refused with file and line when malformed (`CatalogueError`)."""
    return read_model(path, model)[0]
