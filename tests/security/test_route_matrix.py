"""The role-by-route matrix: every route of the running app, with every role (by session and by token)
and with no credentials, against a policy table written here independently of the routes' own
`allow(...)`. A route the table does not know fails the test, so a forgotten protection cannot pass."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from egovops.security.deps import CSRF_HEADER
from egovops.security.roles import Role
from tests.security.conftest import ROLES, Plane, csrf_of

ALL = frozenset(ROLES)
SOC = frozenset({Role.ANALYST})
PUBLIC = {("GET", "/healthz"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}
API_POLICY: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/openapi.json"): ALL,
    ("GET", "/api/events"): ALL,
    ("GET", "/api/stats"): ALL,
    ("GET", "/metrics"): ALL,
    ("GET", "/api/alerts"): ALL,
    ("GET", "/api/incidents"): ALL,
    ("GET", "/api/incidents/{number}"): ALL,
    ("GET", "/api/ingest"): frozenset({Role.ADMIN, Role.AUDITOR}),
    ("POST", "/api/incidents/{number}/assign"): SOC,
    ("POST", "/api/incidents/{number}/transition"): SOC,
    ("POST", "/api/incidents/{number}/notes"): SOC,
    ("POST", "/api/incidents/{number}/respond"): SOC,
    ("POST", "/api/actions/{action_id}/approve"): frozenset({Role.ANALYST, Role.ADMIN}),
    ("POST", "/api/actions/{action_id}/undo"): SOC,
    ("GET", "/api/assessments"): frozenset({Role.ADMIN, Role.AUDITOR}),
    ("GET", "/api/assessments/{assessment_id}"): frozenset({Role.ADMIN, Role.AUDITOR}),
    ("GET", "/api/audit"): frozenset({Role.AUDITOR}),
    ("GET", "/api/audit/verify"): frozenset({Role.AUDITOR}),
}
"""三权分立 for the API: everyone reads the SOC's data, the admin the ingestion too; analysts change
incidents; an analyst or an admin approves; only the auditor reads the audit trail."""
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Caller:
    """One way of calling: a role's session, a role's token, or nobody."""

    label: str
    role: Role | None
    send: Callable[[str, str], requests.Response]


def callers(plane: Plane, sessions: dict[Role, requests.Session]) -> list[Caller]:
    found = [
        Caller(
            "nobody",
            None,
            lambda method, url: requests.request(
                method,
                url,
                json={},
                timeout=30,
                headers={"Accept": "application/json"},
                allow_redirects=False,
            ),
        )
    ]
    for role in ROLES:
        session, token = sessions[role], plane.tokens[role]
        csrf = csrf_of(session, plane.url)

        def by_session(
            method: str, url: str, s: requests.Session = session, c: str = csrf
        ) -> requests.Response:
            return s.request(
                method,
                url,
                json={},
                headers={CSRF_HEADER: c, "Accept": "application/json"},
                allow_redirects=False,
                timeout=60,
            )

        def by_token(method: str, url: str, t: str = token) -> requests.Response:
            return requests.request(
                method,
                url,
                json={},
                headers={"Authorization": f"Bearer {t}"},
                allow_redirects=False,
                timeout=60,
            )

        found += [
            Caller(f"{role.value} session", role, by_session),
            Caller(f"{role.value} token", role, by_token),
        ]
    return found


def endpoints(plane: Plane) -> list[tuple[str, str]]:
    """(method, path) of every route: the OpenAPI document's, and those left out of it (walked through
    included routers); static mounts are public."""
    found = {
        (method.upper(), path)
        for path, operations in plane.app.openapi()["paths"].items()
        for method in operations
    }

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                assert route.path.startswith("/static"), f"mount {route.path}: only static assets are mounted"
            elif isinstance(route, APIRoute | Route):
                found.update(
                    (m, prefix + route.path) for m in route.methods or () if m not in {"HEAD", "OPTIONS"}
                )
            elif hasattr(route, "original_router"):  # FastAPI keeps an included router whole
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            else:
                raise AssertionError(f"{route!r}: a kind of route this test cannot walk; teach it")

    walk(plane.app.routes, "")
    return sorted(found)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def violations(plane: Plane, every: list[Caller], wanted: list[tuple[str, str]]) -> list[str]:
    """What answers differently from the policy: 401 for nobody, 403 for a role not admitted, anything
    else for a role admitted. Console pages (outside /api) must at least refuse nobody and refuse the
    auditor every change."""
    problems: list[str] = []
    for method, path in wanted:
        if (method, path) in PUBLIC:
            continue
        admitted = API_POLICY.get((method, path))
        if admitted is None and path.startswith(("/api", "/openapi")):
            problems.append(f"{method} {path}: not in the policy table (add it, with the roles it admits)")
            continue
        for caller in every:
            status = caller.send(method, plane.url + concrete(path)).status_code
            if caller.role is None:
                expected_ok = status == 401
                want = "401"
            elif admitted is not None:
                expected_ok = status not in {401, 403} if caller.role in admitted else status == 403
                want = "allowed" if caller.role in admitted else "403"
            elif caller.role is Role.AUDITOR and method in UNSAFE:
                expected_ok, want = status == 403, "403 (the auditor changes nothing)"
            else:
                expected_ok, want = status != 401, "not 401"
            if not expected_ok:
                problems.append(f"{method} {path} as {caller.label}: {status}, policy says {want}")
    return problems


def test_every_route_answers_every_role_as_the_policy_says(
    plane: Plane, sessions: dict[Role, requests.Session]
) -> None:
    wanted = endpoints(plane)
    assert set(API_POLICY) <= set(wanted), "the policy names routes the app does not have"
    assert violations(plane, callers(plane, sessions), wanted) == []


def test_an_unprotected_route_is_caught(plane: Plane, sessions: dict[Role, requests.Session]) -> None:
    plane.app.add_api_route("/api/forgotten", lambda: {"leak": True}, methods=["GET"])
    plane.app.add_api_route("/forgotten-page", lambda: {"leak": True}, methods=["POST"])
    try:
        problems = violations(
            plane, callers(plane, sessions), [("GET", "/api/forgotten"), ("POST", "/forgotten-page")]
        )
    finally:
        del plane.app.router.routes[-2:]
    assert problems[0] == "GET /api/forgotten: not in the policy table (add it, with the roles it admits)"
    assert "POST /forgotten-page as nobody: 200, policy says 401" in problems
    assert (
        "POST /forgotten-page as auditor token: 200, policy says 403 (the auditor changes nothing)"
        in problems
    )


def test_pages_send_a_browser_to_the_login_form(plane: Plane) -> None:
    answer = requests.get(
        f"{plane.url}/incidents?state=new", headers={"Accept": "text/html"}, allow_redirects=False, timeout=30
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/incidents%3Fstate%3Dnew"


def test_no_swagger_ui_from_a_cdn(plane: Plane) -> None:
    assert requests.get(f"{plane.url}/docs", timeout=30).status_code in {401, 404}
    assert requests.get(f"{plane.url}/redoc", timeout=30).status_code in {401, 404}


def test_prometheus_scrapes_metrics_with_a_token(plane: Plane) -> None:
    bearer = {"Authorization": f"Bearer {plane.tokens[Role.AUDITOR]}"}
    answer = requests.get(f"{plane.url}/metrics", headers=bearer, timeout=60)

    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert "egovops_audit_records" in answer.text and "egovops_store_up 1.0" in answer.text
    assert requests.get(f"{plane.url}/metrics", timeout=60).status_code == 401
