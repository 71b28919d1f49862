"""通报: a notification to a department or regulator, rendered once from the Chinese template and kept.

The text carries the incident summary, the affected assets (from the alerts' entities and, when the
event store is at hand, the contributing events), a timeline of alerts and state changes, and the
recommended actions, with the contain deadline as the date to report back by.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from secops.events import format_ts
from secops.incidents.contributing import ASSET_LABELS_ZH
from secops.incidents.report import incident_detail, render
from secops.incidents.schema import IncidentRow, Notification
from secops.incidents.settings import IncidentSettings

TEMPLATE = "notification.md.j2"
RECIPIENT_EXAMPLES = "网信办, 公安局 (网安支队), or the owning 委办局"


def timeline(detail: dict[str, Any]) -> list[dict[str, str]]:
    """Alerts (event time) and lifecycle moves (wall-clock), in time order."""
    items = [
        {"at": a["first_seen"], "severity_zh": a["severity_zh"], "text": a["summary_zh"]}
        for a in detail["alerts"]
    ]
    items.append({"at": detail["created_at"], "severity_zh": "", "text": "监测发现，立案为安全事件"})
    items += [
        {"at": t["at"], "severity_zh": "", "text": f"状态变更：{t['from_zh']} → {t['to_zh']}（{t['by']}）"}
        for t in detail["transitions"]
    ]
    return sorted(items, key=lambda item: item["at"])


def build_notification(
    incident: IncidentRow,
    recipient: str,
    actor: str,
    now: datetime,
    settings: IncidentSettings,
    assets: dict[str, list[str]],
) -> Notification:
    """The notification row for `incident` (fully loaded), addressed to `recipient`."""
    detail = incident_detail(incident, settings, now)
    subject = f"关于“{incident.title}”网络安全事件的通报（INC-{incident.id}）"
    body = render(
        TEMPLATE,
        settings,
        subject=subject,
        incident=detail,
        recipient=recipient,
        reporter=settings.reporter,
        actor=actor,
        sent_at=format_ts(now),
        assets=[(ASSET_LABELS_ZH[kind], values) for kind, values in assets.items() if values],
        timeline=timeline(detail),
        actions=detail["recommended_actions"],
    )
    return Notification(recipient=recipient, actor=actor, at=now, subject=subject, body=body)
