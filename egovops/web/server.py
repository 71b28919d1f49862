"""`egovops serve`: the console, the REST API and /metrics, with ingestion and detection of the inbox
running in the background.

Every route but /healthz, /login and the console's stylesheet wants a session or an API token of a role
the route admits (egovops/security/); every change is written to the audit trail with who, from where,
and before/after. Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi import Query as Param
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

import monitors.metrics  # noqa: F401  # imported, so this process's ingest counts into it (pipeline.scraped)
from egovops.cli.common import err, open_configured_store, open_detector, parse_fields, parse_when
from egovops.config import Settings
from egovops.security.app import install
from egovops.security.deps import allow, audit_change
from egovops.security.roles import Principal, Role
from egovops.web.console import CONSOLE_STATIC, Backends, console_router
from egovops.web.console.routes import not_found
from secops.compliance.store import AssessmentStore
from secops.ingest.follow import Follower
from secops.ingest.pipeline import IngestOptions, Ingestor
from secops.store import Query, Store

if TYPE_CHECKING:
    from secops.incidents.cases import CaseStore
    from secops.response.workflow import Responder

ANYONE = Depends(allow(Role.ADMIN, Role.ANALYST, Role.AUDITOR))
ESTATE_READERS = Depends(allow(Role.ADMIN, Role.AUDITOR))
AUDITOR = Depends(allow(Role.AUDITOR))
ANALYST = allow(Role.ANALYST)
APPROVER = allow(Role.ANALYST, Role.ADMIN)
"""三权分立: everyone reads the SOC's data; only analysts change incidents and request response actions;
a second analyst or an admin approves a high-impact one; only the auditor reads the audit trail."""


class Assignment(BaseModel):
    assignee: str = Field(min_length=1, max_length=200)


class Move(BaseModel):
    to: str = Field(description="next state, English or Chinese (notified / 通报 …)")
    reason: str | None = Field(None, max_length=10_000)
    recipients: list[str] = Field(default_factory=list, description="通报 recipients, for notified")


class NoteText(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


class ActionRequest(BaseModel):
    kind: str
    dry_run: bool = False
    address: str | None = Field(None, description="which source address, if the incident has several")


class Shared:
    """One store connection for the request threads, used one request at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()

    @contextmanager
    def use(self) -> Iterator[Store]:
        with self.lock:
            yield self.store


def create_app(settings: Settings, store_url: str | None, inbox: Path, options: IngestOptions) -> FastAPI:
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        from monitors.exporter import build_registry
        from secops.incidents.cases import open_cases

        inbox.mkdir(parents=True, exist_ok=True)
        store = open_configured_store(settings, store_url)
        detector = open_detector(settings, store.url, keep_state=True) if settings.detection.enabled else None
        follower = Follower(
            Ingestor(store, options, detector.observe if detector else None), [inbox],
            poll_interval=settings.ingest.poll_interval, idle_flush=settings.ingest.idle_flush,
        )
        app.state.cases = open_cases(shared.store.url, settings=settings.incidents)  # one for all requests
        app.state.assessments = AssessmentStore(app.state.cases.url)  # 等保 assessments: the case database
        # built before the first scrape (connections of its own; indicators computed in the background),
        # so that scrape answers as fast as the next ones
        app.state.metrics = build_registry(settings, estate=settings.serve.estate, background=True)
        worker = threading.Thread(target=follower.run, args=(stop,), name="inbox", daemon=True)
        worker.start()
        app.state.follower = follower
        yield
        stop.set()
        worker.join(timeout=10)
        follower.store.close()
        if detector is not None:
            detector.finish(final=False)  # windows stay open in the saved state for the next start
            detector.cases.close()
        app.state.cases.close()
        app.state.assessments.close()
        shared.store.close()

    shared = Shared(open_configured_store(settings, store_url))

    def cases() -> CaseStore:
        """The case store the lifespan opened once for every request (SQLAlchemy pools its connections)."""
        store: CaseStore = app.state.cases
        return store

    app = FastAPI(title="egovops", version="0.1.0", lifespan=lifespan)
    install(app, settings, settings.security.state_dir)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "inbox": str(inbox)}

    scrape = threading.Lock()

    @app.get("/metrics", dependencies=[ANYONE], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Prometheus text format (scrape with `authorization: {credentials: TOKEN}`)."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        with scrape:
            body = generate_latest(app.state.metrics)
        return PlainTextResponse(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/events", dependencies=[ANYONE])
    def events(
        q: str = "",
        since: str | None = None,
        until: str | None = None,
        field: Annotated[list[str] | None, Param()] = None,
        dataset: Annotated[list[str] | None, Param()] = None,
        limit: Annotated[int, Param(ge=1, le=1000)] = 50,
        total: Annotated[bool, Param(description=(
            "also count every match (null otherwise): a field filter without a time range reads "
            "every stored event to count, seconds at a million events"))] = False,
    ) -> dict[str, Any]:
        try:
            query = Query(
                text=q, fields=parse_fields(field or []), since=parse_when(since), until=parse_when(until),
                datasets=tuple(dataset or ()), limit=limit,
            )
        except typer.BadParameter as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        with shared.use() as store:
            return {"total": store.count(query) if total else None, "events": store.search(query)}

    @app.get("/api/stats", dependencies=[ANYONE])
    def stats() -> dict[str, Any]:
        with shared.use() as store:
            figures = store.stats()
        return {
            "total": figures.total, "per_dataset": figures.per_dataset, "per_day": figures.per_day,
            "dead_letters": figures.dead_letters, "spool_events": figures.spool_events,
        }

    @app.get("/api/ingest", dependencies=[ESTATE_READERS])
    def ingest_status() -> dict[str, Any]:
        follower: Follower = app.state.follower
        return {**follower.report.as_dict(), "problems": {str(k): v for k, v in follower.problems.items()}}

    @app.get("/api/alerts", dependencies=[ANYONE])
    def alerts(
        since: str | None = None,
        severity: str | None = None,
        rule: str | None = None,
        incident: int | None = None,
        limit: Annotated[int, Param(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """Alerts, most recent first (the same rows as `egovops alerts list --json`)."""
        from secops.detection.alerts import SEVERITIES
        from secops.incidents.report import alert_view

        if severity is not None and severity not in SEVERITIES:
            raise HTTPException(status_code=400, detail=f"severity must be one of {', '.join(SEVERITIES)}")
        try:
            when = parse_when(since)
        except typer.BadParameter as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        rows = cases().alerts(since=when, min_severity=severity, rule=rule, incident=incident, limit=limit)
        return [alert_view(row, row.incident_id) for row in rows]

    @app.get("/api/incidents", dependencies=[ANYONE])
    def incidents(
        state: Annotated[list[str] | None, Param()] = None,
        limit: Annotated[int, Param(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """Incidents with state, severity, entities and SLA flags (as `egovops incidents list --json`)."""
        from secops.incidents.errors import CaseError
        from secops.incidents.report import incident_summary
        from secops.incidents.states import parse_state

        try:
            wanted = [parse_state(s).value for s in state or []]
        except CaseError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        store = cases()
        now = store.clock()
        rows = store.incidents(states=wanted, limit=limit)
        return [incident_summary(row, store.settings, now) for row in rows]

    @app.get("/api/incidents/{number}", dependencies=[ANYONE])
    def incident(number: int) -> dict[str, Any]:
        """One incident whole: alerts, transitions, notes, notifications, evidence, SLA clocks."""
        from secops.incidents.errors import CaseNotFoundError
        from secops.incidents.report import incident_detail

        store = cases()
        try:
            return incident_detail(store.incident(number), store.settings, store.clock())
        except CaseNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc

    # -- changes (issue 3 through the API): each also goes to the audit trail with who, from where, and
    # the state before and after

    def responder() -> Responder:
        from secops.response.workflow import Responder

        return Responder(cases(), app.state.audit, settings.response)

    @app.post("/api/incidents/{number}/assign")
    def assign_incident(
        number: int, body: Assignment, request: Request, me: Annotated[Principal, Depends(ANALYST)]
    ) -> dict[str, Any]:
        """Give the incident to someone (this acknowledges it)."""
        from secops.incidents import lifecycle
        from secops.incidents.report import incident_summary

        store = cases()
        with refusals():
            before = case_state(store.incident(number))
            row = lifecycle.assign(store, number, body.assignee, me.name)
        after = case_state(row)
        audit_change(request, me, "incident.assign", f"incident/{number}", before=before, after=after)
        return incident_summary(row, store.settings, store.clock())

    @app.post("/api/incidents/{number}/transition")
    def transition_incident(
        number: int, body: Move, request: Request, me: Annotated[Principal, Depends(ANALYST)]
    ) -> dict[str, Any]:
        """Move the incident on (new→notified→contained→traced→closed, or false_positive/benign)."""
        from secops.incidents import lifecycle
        from secops.incidents.report import incident_summary

        store = cases()
        with refusals(), shared.use() as events:
            before = case_state(store.incident(number))
            row = lifecycle.transition(
                store, number, body.to, me.name, reason=body.reason, recipients=body.recipients, events=events
            )
        audit_change(
            request, me, "incident.transition", f"incident/{number}", before=before, after=case_state(row),
            detail={"reason": body.reason, "recipients": body.recipients},
        )
        return incident_summary(row, store.settings, store.clock())

    @app.post("/api/incidents/{number}/notes")
    def note_incident(
        number: int, body: NoteText, request: Request, me: Annotated[Principal, Depends(ANALYST)]
    ) -> dict[str, Any]:
        """Add a note to the incident's record."""
        from secops.incidents import lifecycle
        from secops.incidents.report import incident_detail

        store = cases()
        with refusals():
            before = len(store.incident(number).notes)
            row = lifecycle.add_note(store, number, body.text, me.name)
        audit_change(request, me, "incident.note", f"incident/{number}",
                     before={"notes": before}, after={"notes": len(row.notes), "text": body.text.strip()})
        return {"id": number, "notes": incident_detail(row, store.settings, store.clock())["notes"]}

    @app.post("/api/incidents/{number}/respond")
    def respond(
        number: int, body: ActionRequest, request: Request, me: Annotated[Principal, Depends(ANALYST)]
    ) -> dict[str, Any]:
        """Request a response action; `dry_run` shows exactly what would change and changes nothing.
        A high-impact action waits for a second person's approval."""
        from secops.response.registry import get_kind
        from secops.response.workflow import action_view

        with refusals():
            work = responder()
            if body.dry_run:
                plan = work.preview(body.kind, number, body.address)
                return {"dry_run": True, "impact": get_kind(body.kind).impact.value, **plan.as_dict()}
            view = action_view(work.request(body.kind, number, me.name, address=body.address))
        audit_change(request, me, "response.request", f"action:{view['id']}", after=view)
        return view

    def action_step(action_id: int, step: str, request: Request, me: Principal) -> dict[str, Any]:
        from secops.response.workflow import action_view

        with refusals():
            work = responder()
            before = action_view(work.action(action_id))
            done = work.approve(action_id, me.name) if step == "approve" else work.undo(action_id, me.name)
        after = action_view(done)
        audit_change(request, me, f"response.{step}", f"action:{action_id}", before=before, after=after)
        return after

    @app.post("/api/actions/{action_id}/approve")
    def approve_action(
        action_id: int, request: Request, me: Annotated[Principal, Depends(APPROVER)]
    ) -> dict[str, Any]:
        """Approve a pending high-impact action (not one's own request) and run it."""
        return action_step(action_id, "approve", request, me)

    @app.post("/api/actions/{action_id}/undo")
    def undo_action(
        action_id: int, request: Request, me: Annotated[Principal, Depends(ANALYST)]
    ) -> dict[str, Any]:
        """Reverse an executed action."""
        return action_step(action_id, "undo", request, me)

    @app.get("/api/audit", dependencies=[AUDITOR])
    def audit_records(
        offset: Annotated[int, Param(ge=0)] = 0, limit: Annotated[int, Param(ge=1, le=1000)] = 100
    ) -> list[dict[str, Any]]:
        """The audit trail, oldest first, a page at a time (the auditor's alone: 三权分立)."""
        return [r.model_dump() for r in islice(app.state.audit.records(), offset, offset + limit)]

    @app.get("/api/audit/verify", dependencies=[AUDITOR])
    def audit_verify() -> dict[str, Any]:
        """Whether the SM3 chain is intact, how many records, its head, or the first bad record."""
        result: dict[str, Any] = app.state.audit.verify().as_dict()
        return result

    def users() -> list[Any]:
        """The accounts of the security layer (`egovops users`), for the admin's read-only list."""
        listed: list[Any] = app.state.security.users()
        return listed

    def assessments() -> AssessmentStore:
        store: AssessmentStore = app.state.assessments
        return store

    @app.get("/api/assessments", dependencies=[ESTATE_READERS])
    def assessment_list() -> list[dict[str, Any]]:
        """Stored 等保 assessments, newest first (`egovops compliance assess` stores them)."""
        return [s.model_dump(mode="json") for s in assessments().summaries()]

    @app.get("/api/assessments/{assessment_id}", dependencies=[ESTATE_READERS])
    def assessment(assessment_id: str) -> dict[str, Any]:
        """One assessment as `egovops compliance assess --json` prints it (without the diff)."""
        from secops.compliance.report.summary import assessment_json, regrade

        with not_found():
            return assessment_json(regrade(assessments().get(assessment_id)))

    backends = Backends(events=shared.use, cases=cases, ingest=lambda: app.state.follower, users=users,
                        assessments=assessments)  # fmt: skip
    app.include_router(console_router(settings, backends))  # the console's pages, `/` among them
    app.mount("/static/console", StaticFiles(directory=CONSOLE_STATIC), name="console-static")
    return app


def case_state(row: Any) -> dict[str, Any]:
    """What the audit trail keeps of an incident before and after a change."""
    return {"state": row.state, "assignee": row.assignee}


@contextmanager
def refusals() -> Iterator[None]:
    """Refused changes as HTTP answers: unknown incident or action 404, refused change 409, failed
    action 502 (the action is recorded as failed)."""
    from secops.incidents.errors import CaseError, CaseNotFoundError
    from secops.response.errors import ActionError

    try:
        yield
    except CaseNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except CaseError as exc:
        status = 404 if str(exc).startswith("no response action") else 409
        raise HTTPException(status_code=status, detail=str(exc)) from exc
    except ActionError as exc:
        raise HTTPException(status_code=502, detail=f"{exc} (the action is recorded as failed)") from exc


def run_server(
    settings: Settings, *, host: str, port: int, store_url: str | None, inbox: Path,
    ingest_options: IngestOptions, as_json: bool,
) -> None:
    app = create_app(settings, store_url, inbox, ingest_options)
    if not app.state.security.users():
        err.print(
            "no console users yet: create the first with "
            "`egovops users add NAME --role admin --password-stdin` (analyst and auditor likewise)"
        )
    uvicorn.run(app, host=host, port=port, log_level="warning" if as_json else "info")
