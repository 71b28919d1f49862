"""`egovops incidents …`: incidents through 发现 → 通报 → 处置 → 溯源 → 打击, with who did what and when."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from egovops.audit import AuditTrail
from egovops.cli.alerts import (
    ByOpt,
    SeverityOpt,
    actor,
    case_errors,
    check_severity,
    open_case_store,
)
from egovops.cli.common import JsonOpt, StoreOpt, emit_json, open_configured_store, out, state
from secops.incidents import lifecycle
from secops.incidents.report import incident_detail, incident_markdown, incident_summary
from secops.incidents.states import OPEN_STATES, State, parse_state
from secops.incidents.trace import trace as collect_evidence

app = typer.Typer(
    help="Incidents: alerts grouped by source, host or user, moved through 发现→通报→处置→溯源→打击.",
    no_args_is_help=True,
)

Number = Annotated[int, typer.Argument(help="Incident number (see `egovops incidents list`).")]
STATE_HELP = ", ".join(f"{s.value} ({s.zh})" for s in State)


def _sla_flags(incident: dict[str, Any]) -> str:
    late = [name for name in ("acknowledge", "contain") if incident["sla"][name]["breached"]]
    return ", ".join(f"{name} late" for name in late) or "ok"


def _print_summary(incident: dict[str, Any]) -> None:
    out.print(
        f"[bold]INC-{incident['id']}[/] {incident['title']} — {incident['severity_zh']}, "
        f"{incident['state_zh']} ({incident['state']}), assignee {incident['assignee'] or '-'}, "
        f"SLA {_sla_flags(incident)}"
    )


@app.command("list")
def list_incidents(
    ctx: typer.Context,
    states: Annotated[
        list[str] | None, typer.Option("--state", help=f"Only this state; repeatable. {STATE_HELP}.")
    ] = None,
    only_open: Annotated[bool, typer.Option("--open", help="Only incidents not yet closed.")] = False,
    severity: SeverityOpt = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help="Only this assignee's.")] = None,
    limit: Annotated[int, typer.Option(help="Most incidents to list, most recently active first.")] = 100,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Incidents with state, severity, entities, alert counts and SLA breach flags."""
    check_severity(severity)
    with case_errors(as_json):
        wanted = [parse_state(s).value for s in states or []]
        if only_open:
            wanted = [s.value for s in OPEN_STATES if not wanted or s.value in wanted]
        with open_case_store(ctx, store_url) as cases:
            rows = cases.incidents(states=wanted, min_severity=severity, assignee=assignee, limit=limit)
            now = cases.clock()
            incidents = [incident_summary(row, cases.settings, now) for row in rows]
    if as_json:
        emit_json(incidents)
        return
    table = Table("#", "state", "severity", "title", "entities", "alerts", "assignee", "last seen", "SLA",
                  title="incidents")
    for item in incidents:
        entities = "; ".join(", ".join(values) for values in item["entities"].values())
        table.add_row(
            str(item["id"]), item["state_zh"], item["severity_zh"], item["title"], entities,
            str(item["alert_count"]), item["assignee"] or "-", item["last_seen"], _sla_flags(item),
        )
    out.print(table)


@app.command()
def show(ctx: typer.Context, number: Number, store_url: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """One incident: its alerts, transitions, notes, notifications, evidence and SLA clocks."""
    with case_errors(as_json), open_case_store(ctx, store_url) as cases:
        detail = incident_detail(cases.incident(number), cases.settings, cases.clock())
    if as_json:
        emit_json(detail)
        return
    _print_summary(detail)
    out.print(f"entities: {detail['entities']}  tactics: {', '.join(detail['tactics_zh']) or '-'}")
    for name in ("acknowledge", "contain"):
        clock = detail["sla"][name]
        met = f"met {clock['met_at']}" if clock["met_at"] else "running"
        out.print(f"SLA {name}: due {clock['due']}, {met}{' — BREACHED' if clock['breached'] else ''}")
    table = Table("first seen", "severity", "summary", "events", title=f"{len(detail['alerts'])} alerts")
    for alert in detail["alerts"]:
        table.add_row(alert["first_seen"], alert["severity_zh"], alert["summary_zh"], str(alert["count"]))
    out.print(table)
    for t in detail["transitions"]:
        why = f": {t['reason']}" if t["reason"] else ""
        out.print(f"{t['at']} {t['from_zh']} → {t['to_zh']} by {t['by']}{why}")
    for note in detail["notes"]:
        what = f"assigned to {note['text']}" if note["kind"] == "assign" else note["text"]
        out.print(f"{note['at']} {note['by']}: {what}")
    for n in detail["notifications"]:
        out.print(f"通报 #{n['id']} to {n['recipient']} at {n['at']} by {n['by']}: {n['subject']}")
    if detail["evidence"]:
        kinds = [e["kind"] for e in detail["evidence"]]
        out.print(f"evidence: {kinds.count('event')} events, {kinds.count('pcap')} pcap cuts")


def _audit(
    ctx: typer.Context, who: str, action: str, number: int, before: Any, after: Any, **detail: Any
) -> None:
    """The change in the audit trail, as the API and the console record theirs; from where: this host."""
    AuditTrail(state(ctx).settings.response.audit_log).append(
        who, action, f"incident/{number}", {"via": "cli", **detail},
        source=f"cli@{socket.gethostname()}", before=before, after=after,
    )  # fmt: skip


def _case(row: Any) -> dict[str, Any]:
    return {"state": row.state, "assignee": row.assignee}


@app.command()
def assign(
    ctx: typer.Context,
    number: Number,
    assignee: Annotated[str, typer.Argument(help="Who handles the incident.")],
    by: ByOpt = None,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give the incident to someone (this acknowledges it, stopping the acknowledge clock)."""
    with case_errors(as_json), open_case_store(ctx, store_url) as cases:
        before = _case(cases.incident(number))
        row = lifecycle.assign(cases, number, assignee, actor(by))
        _audit(ctx, actor(by), "incident.assign", number, before, _case(row))
        summary = incident_summary(row, cases.settings, cases.clock())
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)


@app.command()
def transition(
    ctx: typer.Context,
    number: Number,
    target: Annotated[str, typer.Argument(help=f"The next state: {STATE_HELP}.")],
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why; required for closed (the action taken), false_positive, benign."),
    ] = None,
    recipients: Annotated[
        list[str] | None,
        typer.Option("--recipient", help="通报 goes to: 网信办, 公安局, the owning 委办局; repeatable."),
    ] = None,
    by: ByOpt = None,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move the incident on: new→notified→contained→traced→closed, or close it as false_positive/benign.

    Example: egovops incidents transition 3 notified --recipient 网信办 --recipient 公安局
    """
    with case_errors(as_json), open_case_store(ctx, store_url) as cases:
        events = open_configured_store(state(ctx).settings, store_url) if recipients else None
        before = _case(cases.incident(number))
        try:
            row = lifecycle.transition(
                cases, number, target, actor(by), reason=reason, recipients=recipients or [], events=events
            )
        finally:
            if events is not None:
                events.close()
        _audit(ctx, actor(by), "incident.transition", number, before, _case(row), reason=reason,
               recipients=recipients or [])  # fmt: skip
        summary = incident_summary(row, cases.settings, cases.clock())
        summary["notifications"] = [
            {"id": n.id, "recipient": n.recipient, "subject": n.subject} for n in row.notifications
        ]
    if as_json:
        emit_json(summary)
        return
    _print_summary(summary)
    for n in summary["notifications"]:
        out.print(f"通报 #{n['id']} to {n['recipient']}: {n['subject']}")
    if recipients:
        out.print(f"export it with: egovops incidents export {number} --format md")


@app.command()
def note(
    ctx: typer.Context,
    number: Number,
    text: Annotated[str, typer.Argument(help="The note.")],
    by: ByOpt = None,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a note to the incident's record."""
    with case_errors(as_json), open_case_store(ctx, store_url) as cases:
        before = len(cases.incident(number).notes)
        row = lifecycle.add_note(cases, number, text, actor(by))
        after = {"notes": len(row.notes), "text": text}
        _audit(ctx, actor(by), "incident.note", number, {"notes": before}, after)
        detail = incident_detail(row, cases.settings, cases.clock())
    if as_json:
        emit_json({"id": number, "notes": detail["notes"]})
        return
    out.print(f"INC-{number}: {len(detail['notes'])} notes")


@app.command()
def export(
    ctx: typer.Context,
    number: Number,
    fmt: Annotated[str, typer.Option("--format", help="json or md (the report, with every 通报).")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default: stdout).")] = None,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the incident — alerts, transitions, notes, notifications, evidence — as JSON or Markdown."""
    if fmt not in {"json", "md"}:
        raise typer.BadParameter(f"{fmt!r}: the export formats are json and md", param_hint="--format")
    with case_errors(as_json), open_case_store(ctx, store_url) as cases:
        detail = incident_detail(cases.incident(number), cases.settings, cases.clock())
        if fmt == "md":
            text = incident_markdown(detail, cases.settings)
        else:
            text = orjson.dumps(detail, option=orjson.OPT_INDENT_2).decode() + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    if as_json:
        emit_json({"incident": number, "format": fmt, "output": str(output)})
    else:
        out.print(f"INC-{number} written to {output}")


@app.command()
def trace(
    ctx: typer.Context,
    number: Number,
    pcaps: Annotated[
        list[Path] | None,
        typer.Option("--pcap", help="Capture to cut the incident's flows from; repeatable."),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Directory for the cuts (default: var/evidence/incident-N)."),
    ] = None,
    by: ByOpt = None,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """溯源: collect the contributing log lines and, with --pcap, the packets of the flows involved."""
    with case_errors(as_json), open_case_store(ctx, store_url) as cases:
        events = open_configured_store(state(ctx).settings, store_url)
        try:
            report = collect_evidence(
                cases, number, events, pcaps=pcaps or [], output_dir=output_dir, actor=actor(by)
            )
        finally:
            events.close()
    if as_json:
        emit_json(report.as_dict())
        return
    out.print(f"INC-{number}: {report.events} events collected, {len(report.missing)} no longer stored")
    out.print(f"flows with a community id: {len(report.flows)}")
    for cut in report.cuts:
        out.print(f"{cut.output}: {cut.packets} packets from {cut.source}")
    for capture in report.empty:
        out.print(f"{capture}: none of the flows' packets")
    if report.flows and not pcaps:
        out.print(f"cut their packets with: egovops incidents trace {number} --pcap CAPTURE")
