"""Cases: alerts persisted, grouped into incidents that move through 发现→通报→处置→溯源→打击.

`open_cases(store_url)` opens the case store beside an event store; `record_alerts(cases, alerts)` is
what detection calls after each batch; `lifecycle`, `trace` and `report` do the rest.

The names below are imported on first use (PEP 562): the configuration reads `IncidentSettings` on
every command, and should not pay for SQLAlchemy to do so.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secops.incidents.cases import CaseStore, open_cases
    from secops.incidents.errors import CaseError, CaseNotFoundError, TraceError
    from secops.incidents.grouping import record_alerts
    from secops.incidents.settings import IncidentSettings

_HOMES = {
    "CaseStore": "cases", "open_cases": "cases", "CaseError": "errors", "CaseNotFoundError": "errors",
    "TraceError": "errors", "record_alerts": "grouping", "IncidentSettings": "settings",
}

__all__ = [
    "CaseError",
    "CaseNotFoundError",
    "CaseStore",
    "IncidentSettings",
    "TraceError",
    "open_cases",
    "record_alerts",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
