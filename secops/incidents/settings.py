"""Settings of the case store: where cases live, how alerts are grouped, SLA targets, 通报 and 溯源.

Spans are written as people say them (`15m`, `4h`, `7d`, or seconds), in `egovops.toml` under
`[incidents]`, e.g. `[incidents.sla.critical] acknowledge = "10m"`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from secops.events import known_zone

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw]?)$")
_UNITS = {"": "seconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_span(value: object) -> object:
    """`15m`, `4h`, `7d`, `90` (seconds) as a timedelta; anything else is left to pydantic to refuse."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str) and (match := _SPAN.match(value.strip())):
        return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    return value


Span = Annotated[timedelta, BeforeValidator(parse_span)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlaTarget(_Section):
    """How long an incident of one severity may wait to be acknowledged and to be contained."""

    acknowledge: Span
    contain: Span


def _default_sla() -> dict[str, SlaTarget]:
    def target(ack: str, contain: str) -> SlaTarget:
        return SlaTarget.model_validate({"acknowledge": ack, "contain": contain})

    low = target("24h", "7d")
    return {
        "critical": target("15m", "4h"),
        "high": target("1h", "24h"),
        "medium": target("4h", "72h"),
        "low": low,
        "informational": low,
    }


class IncidentSettings(_Section):
    cases_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the case store; default: the event store's SQLite file, or "
        "sqlite:///var/egovops-cases.db beside an Elasticsearch store",
    )
    group_window: Span = Field(
        timedelta(hours=24), description="an alert joins an open incident this close to its alerts"
    )
    sla: dict[str, SlaTarget] = Field(default_factory=_default_sla, description="targets per severity")
    reporter: str = Field("市政务云安全运营中心", description="通报单位: who signs notifications")
    timezone: str = Field("Asia/Shanghai", description="zone 通报 and exported reports show times in")
    evidence_dir: Path = Field(Path("var/evidence"), description="where `incidents trace` writes pcaps")
    pcap_margin: Span = Field(
        timedelta(minutes=5), description="packets this long before/after a flow's events are kept"
    )

    _known_zone = field_validator("timezone")(known_zone)

    @field_validator("sla", mode="after")
    @classmethod
    def _over_defaults(cls, value: dict[str, SlaTarget]) -> dict[str, SlaTarget]:
        """Severities the file leaves out keep their defaults."""
        return {**_default_sla(), **value}

    def target(self, severity: str) -> SlaTarget:
        """The SLA of a severity; an unknown severity gets the least urgent one."""
        return self.sla.get(severity) or self.sla["low"]
