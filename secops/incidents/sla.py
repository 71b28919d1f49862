"""SLA clocks. Both start when detection raised the incident (wall-clock `created_at`):
acknowledge stops at the first assignment or the first move out of 发现; contain stops on reaching 处置
(or on closing, when an incident is dismissed before it is contained). A clock still running is
breached once its deadline has passed; a stopped one is breached if it stopped late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from secops.events import format_ts
from secops.incidents.schema import IncidentRow
from secops.incidents.settings import IncidentSettings


@dataclass(frozen=True, slots=True)
class Clock:
    due: datetime
    stopped: datetime | None
    breached: bool

    def as_dict(self) -> dict[str, str | bool | None]:
        return {
            "due": format_ts(self.due),
            "met_at": format_ts(self.stopped) if self.stopped else None,
            "breached": self.breached,
        }


@dataclass(frozen=True, slots=True)
class Sla:
    acknowledge: Clock
    contain: Clock

    def as_dict(self) -> dict[str, dict[str, str | bool | None]]:
        return {"acknowledge": self.acknowledge.as_dict(), "contain": self.contain.as_dict()}


def _clock(due: datetime, stopped: datetime | None, now: datetime) -> Clock:
    return Clock(due, stopped, (stopped or now) > due)


def sla(incident: IncidentRow, settings: IncidentSettings, now: datetime) -> Sla:
    """The incident's clocks as of `now`, with targets for its current severity."""
    target = settings.target(incident.severity)
    return Sla(
        acknowledge=_clock(incident.created_at + target.acknowledge, incident.acknowledged_at, now),
        contain=_clock(
            incident.created_at + target.contain, incident.contained_at or incident.closed_at, now
        ),
    )
