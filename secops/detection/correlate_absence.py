"""egovops's own correlation type, `egovops_absence`: "A, and no B within T, grouped by X".

Sigma's correlation spec has no absence type and pySigma rejects unknown types (it even crashes on one
without a condition), so a rule loader hands documents whose `correlation.type` is `egovops_absence` to
`parse_absence` instead of to pySigma. The document otherwise looks exactly like a Sigma correlation:

    title: Backup started but never finished
    id: 9a1c...                      # optional; `name` is what other correlations refer to
    correlation:
      type: egovops_absence
      rules: [backup_started, backup_finished]   # the first is A, any of the others is B
      group-by: [host.name]
      timespan: 1h
      aliases: {...}                 # as in Sigma
    level: medium
    tags: [...]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from sigma.correlations import SigmaCorrelationTimespan
from sigma.exceptions import SigmaTimespanError

ABSENCE_TYPE: Final[Literal["egovops_absence"]] = "egovops_absence"
_LEVELS = ("informational", "low", "medium", "high", "critical")


class AbsenceRuleError(ValueError):
    """An `egovops_absence` document that cannot be used; the message names the field at fault."""


@dataclass(frozen=True, slots=True)
class AbsenceRule:
    """A parsed absence correlation, shaped like the parts of SigmaCorrelationRule the engine reads."""

    title: str
    rules: tuple[str, ...]
    timespan: float
    group_by: tuple[str, ...]
    id: str | None = None
    name: str | None = None
    level: str | None = None
    tags: tuple[str, ...] = ()
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    generate: bool = False
    custom_attributes: Mapping[str, Any] = field(default_factory=dict)
    path: str = ""


def is_absence(doc: Mapping[str, Any]) -> bool:
    """True for a YAML document that is an `egovops_absence` correlation (route it to `parse_absence`)."""
    corr = doc.get("correlation")
    return isinstance(corr, Mapping) and corr.get("type") == ABSENCE_TYPE


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise AbsenceRuleError(f"{what} must be a string or a list of strings")


def _aliases(value: Any) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(m, Mapping) for m in value.values()):
        raise AbsenceRuleError("correlation.aliases must map each alias to {rule: field}")
    return {str(alias): {str(r): str(f) for r, f in mapping.items()} for alias, mapping in value.items()}


def parse_absence(doc: Mapping[str, Any], path: str = "") -> AbsenceRule:
    """Parse one `egovops_absence` document; raises AbsenceRuleError with the reason."""
    corr = doc.get("correlation")
    if not isinstance(corr, Mapping) or corr.get("type") != ABSENCE_TYPE:
        raise AbsenceRuleError(f"correlation.type is not {ABSENCE_TYPE}")
    title = doc.get("title")
    if not isinstance(title, str) or not title:
        raise AbsenceRuleError("title is missing")
    rules = _strings(corr.get("rules"), "correlation.rules")
    if len(rules) < 2:
        raise AbsenceRuleError("correlation.rules needs the rule A and at least one rule B")
    if "timespan" not in corr:
        raise AbsenceRuleError("correlation.timespan is missing")
    try:
        seconds = float(SigmaCorrelationTimespan(str(corr["timespan"])).seconds)
    except SigmaTimespanError as exc:
        raise AbsenceRuleError(f"correlation.timespan: {exc}") from exc
    group_by = _strings(corr.get("group-by", []), "correlation.group-by") if "group-by" in corr else ()
    level = doc.get("level")
    if level is not None and level not in _LEVELS:
        raise AbsenceRuleError(f"level {level!r} is not one of {', '.join(_LEVELS)}")
    generate = corr.get("generate", False)
    if not isinstance(generate, bool):
        raise AbsenceRuleError("correlation.generate must be true or false")
    known = {
        "title",
        "id",
        "name",
        "level",
        "tags",
        "correlation",
        "description",
        "author",
        "date",
        "modified",
        "status",
        "references",
        "falsepositives",
        "license",
    }
    return AbsenceRule(
        title=title,
        rules=rules,
        timespan=seconds,
        group_by=group_by,
        id=str(doc["id"]) if doc.get("id") is not None else None,
        name=str(doc["name"]) if doc.get("name") is not None else None,
        level=level,
        tags=_strings(doc.get("tags", []), "tags"),
        aliases=_aliases(corr.get("aliases")),
        generate=generate,
        custom_attributes={k: v for k, v in doc.items() if k not in known},
        path=path,
    )
