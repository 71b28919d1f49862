"""What routes use to admit a request: `Depends(allow(Role.ANALYST))`, the CSRF token for forms, and
the audit record of a change made through the web.

A request proves who it is with a session cookie (a browser, after /login) or an `Authorization: Bearer`
API token (a script). Without either it gets 401 — or, for a page, a redirect to /login — and with a role
the route does not admit, 403.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request

from egovops.audit import AuditRecord, AuditTrail
from egovops.security.roles import Principal, Role
from egovops.security.store import SecurityStore

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_ID = "sid"
SESSION_CSRF = "csrf"


class LoginRequired(Exception):  # noqa: N818 — answered as 401 or a redirect, see app.install
    """No valid session or token; `next` is where a browser returns after logging in."""

    def __init__(self, next_path: str) -> None:
        super().__init__("log in first: a session cookie from /login or an Authorization: Bearer token")
        self.next_path = next_path


def allow(*roles: Role) -> Callable[..., Principal]:
    """A FastAPI dependency admitting only principals with one of `roles`; it returns the principal."""
    if not roles:
        raise ValueError("allow() needs at least one role")
    admitted = frozenset(roles)

    def admit(request: Request) -> Principal:
        principal = authenticate(request)
        if principal.role not in admitted:
            names = ", ".join(sorted(r.value for r in admitted))
            raise HTTPException(403, detail=f"role {principal.role.value} may not do this (only {names})")
        request.state.principal = principal
        return principal

    admit.__qualname__ = admit.__name__ = f"allow_{'_'.join(sorted(r.value for r in admitted))}"
    return admit


def authenticate(request: Request) -> Principal:
    """The principal behind a Bearer token or the session cookie, else LoginRequired."""
    store: SecurityStore = request.app.state.security
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    principal: Principal | None = None
    if scheme.lower() == "bearer" and credential:
        principal = store.token_principal(credential.strip())  # a bad token never falls back to a cookie
    elif sid := request.session.get(SESSION_ID):
        principal = store.session_principal(str(sid))
        if principal is None:
            request.session.clear()  # ended by logout, idle timeout or removal: drop the cookie too
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return principal


def csrf_token(request: Request) -> str:
    """The session's CSRF token, for a hidden `CSRF_FIELD` in forms or the `CSRF_HEADER` of fetches."""
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = request.session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return str(token)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def audit_change(
    request: Request, principal: Principal, action: str, target: str, *,
    before: Any = None, after: Any = None, detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append a change made through the web: who (and how), what, from which address, before and after."""
    trail: AuditTrail = request.app.state.audit
    who = {"role": principal.role.value, "via": principal.via}
    return trail.append(
        principal.name, action, target, {**who, **(detail or {})},
        source=client_address(request), before=before, after=after,
    )


def login_url(next_path: str) -> str:
    return f"/login?next={quote(safe_next(next_path), safe='/')}"


def safe_next(path: str | None) -> str:
    """A same-site path to return to after login; anything else (another host, a scheme) becomes `/`."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
