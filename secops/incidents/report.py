"""What people and scripts see of alerts and incidents: JSON-ready views, and Markdown from templates.

The same incident view feeds `--json`, the exports and the 通报 template, so all of them say the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from secops.detection.alerts import _SEVERITY_ZH as SEVERITY_ZH
from secops.events import format_ts
from secops.incidents import attack
from secops.incidents.advice import recommended_actions
from secops.incidents.cases import to_alert
from secops.incidents.schema import AlertRow, IncidentRow
from secops.incidents.settings import IncidentSettings
from secops.incidents.sla import sla
from secops.incidents.states import State, next_states

BEIJING_TIME = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"})


def _ts(moment: datetime | None) -> str | None:
    return format_ts(moment) if moment is not None else None


def alert_view(row: AlertRow, incident_id: int | None) -> dict[str, Any]:
    """The alert as detection made it, plus the incident it went to and when it was recorded."""
    return {
        **to_alert(row).to_dict(),
        "severity_zh": SEVERITY_ZH.get(row.severity, row.severity),
        "incident_id": incident_id,
        "recorded_at": _ts(row.recorded_at),
        "updated_at": _ts(row.updated_at),
    }


def incident_summary(row: IncidentRow, settings: IncidentSettings, now: datetime) -> dict[str, Any]:
    state = State(row.state)
    entities: dict[str, list[str]] = {}
    for entity in row.entities:
        entities.setdefault(entity.kind, []).append(entity.value)
    return {
        "id": row.id,
        "title": row.title,
        "severity": row.severity,
        "severity_zh": SEVERITY_ZH.get(row.severity, row.severity),
        "state": state.value,
        "state_zh": state.zh,
        "next_states": [s.value for s in next_states(state)],
        "assignee": row.assignee,
        "entities": entities,
        "alert_count": row.alert_count,
        "first_seen": _ts(row.first_seen),
        "last_seen": _ts(row.last_seen),
        "created_at": _ts(row.created_at),
        "updated_at": _ts(row.updated_at),
        "acknowledged_at": _ts(row.acknowledged_at),
        "contained_at": _ts(row.contained_at),
        "closed_at": _ts(row.closed_at),
        "tactics": list(row.tactics),
        "tactics_zh": [attack.TACTICS_ZH[t] for t in row.tactics],
        "techniques": list(row.techniques),
        "stage": row.stage,
        "stage_zh": attack.TACTICS_ZH.get(row.stage or ""),
        "sla": sla(row, settings, now).as_dict(),
    }


def incident_detail(row: IncidentRow, settings: IncidentSettings, now: datetime) -> dict[str, Any]:
    """Everything about one incident (load it with `CaseStore.incident`); `event_count` counts distinct
    contributing events."""
    alerts = row.alerts
    return {
        **incident_summary(row, settings, now),
        "event_count": len({i for a in alerts for i in a.event_ids}),
        "alerts": [alert_view(a, row.id) for a in alerts],
        "transitions": [
            {
                "from": t.from_state, "to": t.to_state, "from_zh": State(t.from_state).zh,
                "to_zh": State(t.to_state).zh, "by": t.actor, "at": _ts(t.at), "reason": t.reason,
            }
            for t in row.transitions
        ],
        "notes": [{"kind": n.kind, "by": n.actor, "at": _ts(n.at), "text": n.text} for n in row.notes],
        "notifications": [
            {
                "id": n.id, "recipient": n.recipient, "by": n.actor, "at": _ts(n.at),
                "subject": n.subject, "body": n.body,
            }
            for n in row.notifications
        ],
        "evidence": [
            {
                "kind": e.kind, "ref": e.ref, "collected_at": _ts(e.collected_at),
                "timestamp": _ts(e.timestamp), **e.detail,
            }
            for e in row.evidence
        ],
        "recommended_actions": recommended_actions(row.tactics),
    }


def _environment(settings: IncidentSettings) -> Environment:
    zone = ZoneInfo(settings.timezone)
    label = "北京时间" if settings.timezone in BEIJING_TIME else settings.timezone

    def local(text: str | None) -> str:
        if not text:
            return "—"
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(zone)
        return f"{moment:%Y-%m-%d %H:%M:%S}（{label}）"

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return (text or "—").replace("|", "\\|").replace("\n", " ")

    env = Environment(
        loader=PackageLoader("secops.incidents", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML
    )
    env.filters["local"] = local
    env.filters["cell"] = cell
    return env


def render(template: str, settings: IncidentSettings, **context: Any) -> str:
    return _environment(settings).get_template(template).render(**context)


def incident_markdown(detail: dict[str, Any], settings: IncidentSettings) -> str:
    """The incident report (`incidents export N --format md`), notifications included verbatim."""
    return render("incident.md.j2", settings, incident=detail, reporter=settings.reporter)
