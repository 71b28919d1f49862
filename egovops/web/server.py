"""`egovops serve`: the API and a first console page, plus ingestion of the inbox in the background.

The console proper (roles, sessions, incidents) comes with its own issue; until then the server binds to
127.0.0.1 by default and serves read-only views of the event store.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi import Query as Param
from fastapi.responses import HTMLResponse

from egovops.cli.common import open_configured_store, open_detector, parse_fields, parse_when
from egovops.config import Settings
from secops.ingest.follow import Follower
from secops.ingest.pipeline import IngestOptions, Ingestor
from secops.store import Query, Store

if TYPE_CHECKING:
    from secops.incidents.cases import CaseStore


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
        from secops.incidents.cases import open_cases

        inbox.mkdir(parents=True, exist_ok=True)
        store = open_configured_store(settings, store_url)
        detector = open_detector(settings, store.url, keep_state=True) if settings.detection.enabled else None
        follower = Follower(
            Ingestor(store, options, detector.observe if detector else None), [inbox],
            poll_interval=settings.ingest.poll_interval, idle_flush=settings.ingest.idle_flush,
        )
        app.state.cases = open_cases(shared.store.url, settings=settings.incidents)  # one for all requests
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
        shared.store.close()

    shared = Shared(open_configured_store(settings, store_url))

    def cases() -> CaseStore:
        """The case store the lifespan opened once for every request (SQLAlchemy pools its connections)."""
        store: CaseStore = app.state.cases
        return store

    app = FastAPI(title="egovops", version="0.1.0", lifespan=lifespan)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "inbox": str(inbox)}

    @app.get("/api/events")
    def events(
        q: str = "",
        since: str | None = None,
        until: str | None = None,
        field: Annotated[list[str] | None, Param()] = None,
        dataset: Annotated[list[str] | None, Param()] = None,
        limit: Annotated[int, Param(ge=1, le=1000)] = 50,
    ) -> dict[str, Any]:
        try:
            query = Query(
                text=q, fields=parse_fields(field or []), since=parse_when(since), until=parse_when(until),
                datasets=tuple(dataset or ()), limit=limit,
            )
        except typer.BadParameter as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        with shared.use() as store:
            return {"total": store.count(query), "events": store.search(query)}

    @app.get("/api/stats")
    def stats() -> dict[str, Any]:
        with shared.use() as store:
            figures = store.stats()
        return {
            "total": figures.total, "per_dataset": figures.per_dataset, "per_day": figures.per_day,
            "dead_letters": figures.dead_letters, "spool_events": figures.spool_events,
        }

    @app.get("/api/ingest")
    def ingest_status() -> dict[str, Any]:
        follower: Follower = app.state.follower
        return {**follower.report.as_dict(), "problems": {str(k): v for k, v in follower.problems.items()}}

    @app.get("/api/alerts")
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

    @app.get("/api/incidents")
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

    @app.get("/api/incidents/{number}")
    def incident(number: int) -> dict[str, Any]:
        """One incident whole: alerts, transitions, notes, notifications, evidence, SLA clocks."""
        from secops.incidents.errors import CaseNotFoundError
        from secops.incidents.report import incident_detail

        store = cases()
        try:
            return incident_detail(store.incident(number), store.settings, store.clock())
        except CaseNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        with shared.use() as store:
            figures = store.stats()
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in sorted(figures.per_dataset.items())
        )
        return (
            "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>egovops 安全运营</title>"
            "<body><h1>egovops</h1><p>事件总数 events: " f"{figures.total}" "</p>"
            f"<table><tr><th>dataset</th><th>events</th></tr>{rows}</table>"
            f"<p>收件箱 inbox: {html.escape(str(inbox))}</p></body></html>"
        )

    return app


def run_server(
    settings: Settings, *, host: str, port: int, store_url: str | None, inbox: Path,
    ingest_options: IngestOptions, as_json: bool,
) -> None:
    app = create_app(settings, store_url, inbox, ingest_options)
    uvicorn.run(app, host=host, port=port, log_level="warning" if as_json else "info")
