"""`egovops alerts …`: the alerts detection recorded, as stored in the case store beside the events.

Also what the incidents commands share: opening the case store that goes with `--store`, and turning
case errors into one line and an exit code.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.table import Table

from egovops.cli.common import Exit, JsonOpt, StoreOpt, emit_json, fail, out, parse_when, state, user_errors
from egovops.config import Settings
from secops.detection.alerts import SEVERITIES
from secops.incidents import CaseError, CaseStore, IncidentSettings, TraceError, open_cases
from secops.incidents.report import alert_view

app = typer.Typer(help="List and show the alerts detection raised.", no_args_is_help=True)

SeverityOpt = Annotated[
    str | None,
    typer.Option("--severity", help=f"At least this severity: {', '.join(SEVERITIES)}."),
]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who does it (default: the login name).")]


def incident_settings(settings: Settings) -> IncidentSettings:
    """The `[incidents]` section of the configuration."""
    return settings.incidents


def open_case_store(ctx: typer.Context, store_url: str | None) -> CaseStore:
    settings = state(ctx).settings
    return open_cases(store_url or settings.store.url, settings=incident_settings(settings))


def actor(by: str | None) -> str:
    return by or getpass.getuser()


def check_severity(severity: str | None) -> None:
    if severity is not None and severity not in SEVERITIES:
        raise typer.BadParameter(f"{severity!r}: use one of {', '.join(SEVERITIES)}", param_hint="--severity")


@contextmanager
def case_errors(as_json: bool) -> Iterator[None]:
    """Store and configuration errors as `user_errors` has them; refused case operations exit 2, evidence
    that cannot be read exits 5."""
    with user_errors(as_json):
        try:
            yield
        except TraceError as exc:
            fail(str(exc), Exit.INPUT, as_json)
        except CaseError as exc:
            fail(str(exc), Exit.USAGE, as_json)


def _entity(entity: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in entity.items()) or "-"


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="Last seen within: 30d, 12h, or ISO.")] = None,
    severity: SeverityOpt = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule (id or name).")] = None,
    incident: Annotated[int | None, typer.Option("--incident", help="Only the alerts of incident N.")] = None,
    limit: Annotated[int, typer.Option(help="Most alerts to list, most recent first.")] = 100,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Alerts, most recent first: rule, severity, entity (the group-by values), events, incident."""
    check_severity(severity)
    with case_errors(as_json), open_case_store(ctx, store_url) as cases:
        rows = cases.alerts(
            since=parse_when(since), min_severity=severity, rule=rule, incident=incident, limit=limit
        )
        alerts = [alert_view(row, row.incident_id) for row in rows]
    if as_json:
        emit_json(alerts)
        return
    table = Table("last seen", "severity", "title", "entity", "events", "incident", "id", title="alerts")
    for alert in alerts:
        table.add_row(
            alert["last_seen"], alert["severity_zh"], alert["title"], _entity(alert["entity"]),
            str(alert["count"]), str(alert["incident_id"] or "-"), alert["id"][:12],
        )
    out.print(table)


@app.command()
def show(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(help="Alert id, or a unique prefix of it.")],
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One alert: rule, severity, ATT&CK tags, entity, the ids of every contributing event, summaries."""
    with case_errors(as_json), open_case_store(ctx, store_url) as cases:
        row = cases.alert(alert_id)
        alert = alert_view(row, row.incident_id)
    if as_json:
        emit_json(alert)
        return
    out.print(f"[bold]{alert['summary_zh']}[/]")
    out.print(alert["summary_en"])
    for key in ("id", "rule_id", "rule_name", "rule_type", "severity", "first_seen", "last_seen", "count",
                "suppressed", "incident_id"):
        out.print(f"{key}: {alert[key]}")
    out.print(f"entity: {_entity(alert['entity'])}")
    out.print(f"tags: {', '.join(alert['tags']) or '-'}")
    out.print(f"events ({len(alert['event_ids'])}): {' '.join(alert['event_ids'])}")
