"""The console's pages: thin handlers that read a model, render a template, and for the analyst's
buttons call the case functions. Every page names the roles it admits (`allow`), every form carries the
CSRF token, and every list is a bounded page."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Query as Param
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.background import BackgroundTask

from egovops.audit import AuditTrail
from egovops.config import Settings
from egovops.security.deps import CSRF_FIELD, allow, audit_change, csrf_token
from egovops.security.roles import Principal, Role
from egovops.web.console import assessments as compliance
from egovops.web.console import readmodels
from egovops.web.console.casework import Casework, Recorder
from egovops.web.console.charts import bar_chart, time_chart
from egovops.web.console.estateview import read_estate
from egovops.web.console.eventviews import SearchForm, StatsCache, search_events
from egovops.web.console.rendering import environment, render, url_with
from egovops.web.console.rulecatalog import RuleCatalog
from egovops.web.i18n import COOKIE, LANGUAGES, Translator
from secops.compliance.store import AssessmentStore, AssessmentStoreError
from secops.detection.alerts import SEVERITIES
from secops.incidents.cases import CaseStore
from secops.incidents.contributing import contributing_events
from secops.incidents.errors import CaseError, CaseNotFoundError
from secops.incidents.report import incident_detail
from secops.incidents.states import State
from secops.response.errors import ActionError, ResponseError
from secops.response.registry import kinds
from secops.response.workflow import action_view
from secops.store import Store

ANYONE = allow(Role.ADMIN, Role.ANALYST, Role.AUDITOR)
SOC_READERS = ANYONE
ESTATE_READERS = allow(Role.ADMIN, Role.AUDITOR)
ANALYST = allow(Role.ANALYST)
APPROVER = allow(Role.ANALYST, Role.ADMIN)
AUDITOR = allow(Role.AUDITOR)
"""As the API: everyone reads the SOC's data, only analysts change incidents and request actions, a
second analyst or an admin approves a high-impact one, the admin pages are for the admin (and the auditor,
who reads everything), and only the auditor reads the audit trail."""
TIMELINE = 50
"""Contributing events shown on an incident page (the first ones, oldest first). The store finds each by
a field query within its alert's time range; see docs/console.md, Speed."""
MAX_PAGE = 10_000
FIXTURE_NAMES = {"pass": "通过", "fail": "失败", "none": "无"}
AUDIT_COLUMNS = frozenset({"seq", "at", "actor", "action", "target", "prev", "hash"})
"""Fields of an audit record with a column of their own; the rest (detail, before, after, …) go in one."""
ROLE_NAMES = {"admin": "系统管理员", "analyst": "安全分析员", "auditor": "安全审计员"}
SEVERITY_NAMES = {
    "informational": "提示", "low": "低危", "medium": "中危", "high": "高危", "critical": "严重",
}

PageNo = Annotated[int, Param(ge=1, le=MAX_PAGE)]
Text = Annotated[str, Form(max_length=10_000)]

NAV: list[tuple[str, str, tuple[Role, ...]]] = [
    ("/", "总览", (Role.ADMIN, Role.ANALYST, Role.AUDITOR)),
    ("/incidents", "事件处置队列", (Role.ADMIN, Role.ANALYST, Role.AUDITOR)),
    ("/alerts", "告警", (Role.ADMIN, Role.ANALYST, Role.AUDITOR)),
    ("/events", "日志检索", (Role.ADMIN, Role.ANALYST, Role.AUDITOR)),
    ("/estate", "资产", (Role.ADMIN, Role.AUDITOR)),
    ("/rules", "检测规则", (Role.ADMIN, Role.AUDITOR)),
    ("/ingest", "采集状态", (Role.ADMIN, Role.AUDITOR)),
    ("/users", "用户与角色", (Role.ADMIN, Role.AUDITOR)),
    ("/assessments", "等保测评", (Role.ADMIN, Role.AUDITOR)),
    ("/audit", "审计日志", (Role.AUDITOR,)),
]


@dataclass(frozen=True)
class Backends:
    """What the pages read, as the server holds it: the event store (one request at a time), the case
    store, the inbox follower's counters, the user list of the security layer, and the 等保 assessments
    kept in the case database."""

    events: Callable[[], AbstractContextManager[Store]]
    cases: Callable[[], CaseStore]
    ingest: Callable[[], Any]
    users: Callable[[], list[Any]]
    assessments: Callable[[], AssessmentStore]


def console_router(settings: Settings, backends: Backends) -> APIRouter:
    router = APIRouter(include_in_schema=True, tags=["console"], default_response_class=HTMLResponse)
    env = environment()
    trail = AuditTrail(settings.response.audit_log)
    stats = StatsCache(lambda: _stats(backends))
    case_figures = StatsCache(lambda: readmodels.case_figures(backends.cases()), ttl=readmodels.FIGURES_TTL)
    rules = RuleCatalog(_rule_paths(settings))
    work: dict[str, Casework] = {}

    def casework() -> Casework:
        if "it" not in work:  # the case store exists once the server has started
            work["it"] = Casework(backends.cases(), trail, backends.events, settings.response)
        return work["it"]

    def page(
        request: Request, me: Principal, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        translate = Translator(request.cookies.get(COOKIE, ""))
        nav = [(href, label) for href, label, roles in NAV if me.role in roles]
        html = render(env, template, translate, {
            "request": request, "me": me, "nav": nav, "csrf_field": CSRF_FIELD, "csrf": csrf_token(request),
            "url_with": lambda **changes: url_with(request, **changes), "severities": SEVERITIES,
            "can_act": me.role is Role.ANALYST, "can_approve": me.role in (Role.ANALYST, Role.ADMIN),
            "roles": ROLE_NAMES, "severity_names": SEVERITY_NAMES,
            **context,
        })
        return HTMLResponse(html, status_code=status)

    def recorder(request: Request, me: Principal) -> Recorder:
        return partial(audit_change, request, me)

    @router.get("/")
    def dashboard(request: Request, me: Annotated[Principal, Depends(ANYONE)]) -> HTMLResponse:
        figures = stats.get()
        cases = case_figures.get()
        by_severity = [
            (SEVERITY_NAMES[s], sum(c[s] for c in cases.open_by_state.values())) for s in reversed(SEVERITIES)
        ]
        return page(
            request, me, "dashboard.html", figures=figures, per_day=time_chart(figures.per_day),
            by_state=bar_chart([(State(s).zh, sum(c.values())) for s, c in cases.open_by_state.items()]),
            by_severity=bar_chart(by_severity), sources=bar_chart(cases.top_sources), cases=cases,
        )

    @router.get("/lang/{code}")
    def language(code: str, me: Annotated[Principal, Depends(ANYONE)], back: str = "/") -> RedirectResponse:
        """Switch the console's language (a cookie); `back` must be a path of this site."""
        if code not in LANGUAGES:
            raise HTTPException(status_code=404, detail=f"no language {code!r}; use one of {LANGUAGES}")
        safe = back if back.startswith("/") and not back.startswith("//") and "\\" not in back else "/"
        response = RedirectResponse(safe, status_code=303)
        response.set_cookie(COOKIE, code, max_age=365 * 86400, httponly=True, samesite="lax")
        return response

    # -- analyst ---------------------------------------------------------------------------------------

    @router.get("/incidents")
    def incident_queue(
        request: Request, me: Annotated[Principal, Depends(SOC_READERS)], state: str = "", severity: str = "",
        assignee: str = "", page_no: Annotated[int, Param(alias="page", ge=1, le=MAX_PAGE)] = 1,
    ) -> HTMLResponse:
        found = readmodels.incident_queue(
            backends.cases(), state=state or None, severity=severity or None, assignee=assignee or None,
            page=page_no,
        )
        return page(request, me, "incidents.html", found=found, states=list(State),
                    filters={"state": state, "severity": severity, "assignee": assignee})

    def incident_page(
        request: Request, me: Principal, number: int, status: int = 200, **extra: Any
    ) -> HTMLResponse:
        cases = backends.cases()
        try:
            row = cases.incident(number)
        except CaseNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        detail = incident_detail(row, cases.settings, cases.clock())
        with backends.events() as store:
            timeline = contributing_events(store, row.alerts, limit=TIMELINE)
        actions = [action_view(a) for a in casework().responder.actions(number)]
        return page(
            request, me, "incident.html", status, incident=detail, timeline=timeline, actions=actions,
            kinds=kinds(), next_states=[State(s) for s in detail["next_states"]], **extra,
        )

    @router.get("/incidents/{number}")
    def incident(
        request: Request, number: int, me: Annotated[Principal, Depends(SOC_READERS)], preview: str = ""
    ) -> HTMLResponse:
        """One incident; `?preview=KIND` adds the dry run of that response action."""
        if not preview:
            return incident_page(request, me, number)
        try:
            plan = casework().preview(preview, number)
        except (ResponseError, CaseError) as exc:
            return incident_page(request, me, number, 400, error=str(exc))
        return incident_page(request, me, number, plan=plan)

    def act(
        request: Request, me: Principal, number: int, change: Callable[[], object]
    ) -> HTMLResponse | RedirectResponse:
        """Make the change and go back to the incident, or show the incident with why it was refused."""
        try:
            change()
        except (CaseError, ResponseError) as exc:
            return incident_page(request, me, number, 400, error=str(exc))
        except ActionError as exc:  # the change ran and failed; the action's row says so too
            return incident_page(request, me, number, 502, error=str(exc))
        return RedirectResponse(f"/incidents/{number}", status_code=303)

    @router.post("/incidents/{number}/transition", response_model=None)
    def move(
        request: Request, number: int, me: Annotated[Principal, Depends(ANALYST)],
        target: Annotated[str, Form()], reason: Text = "", recipients: Text = "",
    ) -> HTMLResponse | RedirectResponse:
        named = [r for r in recipients.replace("，", ",").split(",") if r.strip()]
        return act(request, me, number, lambda: casework().transition(
            number, target, me.name, recorder(request, me), reason=reason or None, recipients=named))

    @router.post("/incidents/{number}/note", response_model=None)
    def note(
        request: Request, number: int, me: Annotated[Principal, Depends(ANALYST)], text: Text
    ) -> HTMLResponse | RedirectResponse:
        return act(request, me, number, lambda: casework().note(number, text, me.name, recorder(request, me)))

    @router.post("/incidents/{number}/assign", response_model=None)
    def assign(
        request: Request, number: int, me: Annotated[Principal, Depends(ANALYST)], assignee: Text
    ) -> HTMLResponse | RedirectResponse:
        return act(
            request, me, number, lambda: casework().assign(number, assignee, me.name, recorder(request, me))
        )

    @router.post("/incidents/{number}/actions", response_model=None)
    def request_action(
        request: Request, number: int, me: Annotated[Principal, Depends(ANALYST)],
        kind: Annotated[str, Form()],
    ) -> HTMLResponse | RedirectResponse:
        return act(request, me, number, lambda: casework().request(kind, number, me.name))

    @router.post("/incidents/{number}/actions/{action_id}/approve", response_model=None)
    def approve_action(
        request: Request, number: int, action_id: int, me: Annotated[Principal, Depends(APPROVER)]
    ) -> HTMLResponse | RedirectResponse:
        """Approve a pending high-impact action (someone other than its requester), which runs it."""
        return act(request, me, number, lambda: casework().approve(action_id, me.name))

    @router.post("/incidents/{number}/actions/{action_id}/undo", response_model=None)
    def undo_action(
        request: Request, number: int, action_id: int, me: Annotated[Principal, Depends(ANALYST)]
    ) -> HTMLResponse | RedirectResponse:
        return act(request, me, number, lambda: casework().undo(action_id, me.name))

    @router.get("/incidents/{number}/evidence/{name}", response_class=FileResponse)
    def evidence(number: int, name: str, me: Annotated[Principal, Depends(SOC_READERS)]) -> FileResponse:
        """A pcap 溯源 cut for the incident, by file name; only files the incident's evidence lists and
        that lie inside the evidence directory are served."""
        root = settings.incidents.evidence_dir.resolve()
        try:
            rows = backends.cases().incident(number).evidence
        except CaseNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        for row in rows:
            path = Path(row.ref).resolve()
            if row.kind == "pcap" and path.name == name and path.is_relative_to(root) and path.is_file():
                return FileResponse(path, filename=path.name, media_type="application/vnd.tcpdump.pcap")
        raise HTTPException(status_code=404, detail=f"incident {number} has no evidence file {name!r}")

    @router.get("/alerts")
    def alerts(
        request: Request, me: Annotated[Principal, Depends(SOC_READERS)], severity: str = "", rule: str = "",
        page_no: Annotated[int, Param(alias="page", ge=1, le=MAX_PAGE)] = 1,
    ) -> HTMLResponse:
        found = readmodels.alert_list(
            backends.cases(), severity=severity or None, rule=rule or None, page=page_no
        )
        return page(request, me, "alerts.html", found=found, filters={"severity": severity, "rule": rule})

    @router.get("/events")
    def events(
        request: Request, me: Annotated[Principal, Depends(SOC_READERS)],
        q: Annotated[str, Param(max_length=1000)] = "",
        field: Annotated[list[str] | None, Param(max_length=1000)] = None,
        dataset: Annotated[list[str] | None, Param()] = None,
        since: str = "", until: str = "", before: str = "",
    ) -> HTMLResponse:
        form = SearchForm(q, field or [], dataset or [], since, until, before)
        with backends.events() as store:
            result = search_events(store, form)
        known = sorted(stats.get().per_dataset)
        return page(request, me, "events.html", form=form, result=result, datasets=known,
                    status=400 if result.error else 200)

    # -- admin -----------------------------------------------------------------------------------------

    @router.get("/estate")
    def estate(request: Request, me: Annotated[Principal, Depends(ESTATE_READERS)]) -> HTMLResponse:
        return page(request, me, "estate.html", view=read_estate(settings.serve.estate))

    @router.get("/rules")
    def rules_page(request: Request, me: Annotated[Principal, Depends(ESTATE_READERS)]) -> HTMLResponse:
        fired = readmodels.last_fired(backends.cases())
        return page(request, me, "rules.html", rules=rules.rows(), fired=fired, fixture_names=FIXTURE_NAMES)

    @router.get("/ingest")
    def ingest(request: Request, me: Annotated[Principal, Depends(ESTATE_READERS)]) -> HTMLResponse:
        follower = backends.ingest()
        with backends.events() as store:
            letters = store.dead_letters(limit=readmodels.PAGE_SIZE)
        return page(request, me, "ingest.html", figures=stats.get(), report=follower.report,
                    problems=follower.problems, letters=letters)

    @router.get("/users")
    def users(request: Request, me: Annotated[Principal, Depends(ESTATE_READERS)]) -> HTMLResponse:
        return page(request, me, "users.html", users=backends.users())

    @router.get("/assessments")
    def assessment_list(
        request: Request, me: Annotated[Principal, Depends(ESTATE_READERS)],
        page_no: Annotated[int, Param(alias="page", ge=1, le=MAX_PAGE)] = 1,
    ) -> HTMLResponse:
        """Stored 等保 assessments, newest first, a page at a time."""
        store = backends.assessments()
        size = readmodels.PAGE_SIZE
        listed = store.summaries()[(page_no - 1) * size : page_no * size + 1]
        found = readmodels.Page(compliance.rows(store, listed[:size]), page_no, len(listed) > size)
        return page(request, me, "assessments.html", found=found)

    @router.get("/assessments/{assessment_id}")
    def assessment(
        request: Request, assessment_id: str, me: Annotated[Principal, Depends(ESTATE_READERS)]
    ) -> HTMLResponse:
        with not_found():
            view = compliance.detail(backends.assessments(), assessment_id)
        return page(request, me, "assessment.html", view=view, columns=compliance.COLUMNS,
                    formats=list(compliance.REPORT_FORMATS), shown=compliance.EVIDENCE_SHOWN)

    @router.get("/assessments/{assessment_id}/report.{fmt}", response_class=FileResponse)
    def assessment_report(
        assessment_id: str, fmt: str, me: Annotated[Principal, Depends(ESTATE_READERS)]
    ) -> FileResponse:
        """The 测评报告 written on demand to a temporary file, removed once sent; `verify` checks it."""
        if fmt not in compliance.REPORT_FORMATS:
            raise HTTPException(status_code=404, detail=f"no report format {fmt!r}; use one of "
                                f"{', '.join(compliance.REPORT_FORMATS)}")  # fmt: skip
        handle, name = tempfile.mkstemp(suffix=f".{fmt}", prefix="egovops-report-")
        os.close(handle)
        path = Path(name)
        try:
            with not_found():
                compliance.write_report(backends.assessments(), assessment_id, fmt, path)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return FileResponse(
            path, media_type=compliance.REPORT_FORMATS[fmt], filename=f"{assessment_id}.{fmt}",
            background=BackgroundTask(path.unlink, missing_ok=True),
        )

    # -- auditor ---------------------------------------------------------------------------------------

    @router.get("/audit")
    def audit(
        request: Request, me: Annotated[Principal, Depends(AUDITOR)],
        page_no: Annotated[int, Param(alias="page", ge=1, le=MAX_PAGE)] = 1,
    ) -> HTMLResponse:
        """The trail, newest first, a page at a time, with the chain's verification over all of it."""
        records = list(trail.records())
        size = readmodels.PAGE_SIZE
        end = len(records) - (page_no - 1) * size
        shown = list(reversed(records[max(end - size, 0) : max(end, 0)]))
        rows = [(r, {k: v for k, v in r.model_dump().items() if k not in AUDIT_COLUMNS}) for r in shown]
        return page(request, me, "audit.html", verification=trail.verify(), path=trail.path,
                    found=readmodels.Page(rows, page_no, end - size > 0))

    return router


@contextmanager
def not_found() -> Iterator[None]:
    """An assessment the store does not hold answers 404 with the store's own explanation."""
    try:
        yield
    except AssessmentStoreError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


def _stats(backends: Backends) -> Any:
    with backends.events() as store:
        return store.stats()


def _rule_paths(settings: Settings) -> list[Path]:
    from secops.detection.ruleset import BUILTIN_RULES

    return [BUILTIN_RULES, *settings.detection.rules]
