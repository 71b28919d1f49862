"""Wiring the control plane's security into a FastAPI app: sessions, CSRF, /login, /logout, lockout.

The session cookie is Starlette's (signed with itsdangerous, HttpOnly, SameSite=Strict, Secure when
configured); it carries only a random session id and the CSRF token, and the server keeps the session
row, so logout and the idle timeout end a session even if someone kept a copy of the cookie.
"""

from __future__ import annotations

import hmac
import html
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from egovops.audit import AuditTrail
from egovops.config import Settings
from egovops.security.deps import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_CSRF,
    SESSION_ID,
    LoginRequired,
    allow,
    client_address,
    csrf_token,
    login_url,
    safe_next,
)
from egovops.security.roles import Role
from egovops.security.store import LoginRefused, SecurityStore
from egovops.security.throttle import AddressThrottle

SESSION_KEY_NAME = "session.key"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM = 1 << 20
"""Bytes of a form body read to find its CSRF field; larger bodies must send the header instead."""


def install(app: FastAPI, settings: Settings, state_dir: Path) -> None:
    """Sessions, the CSRF check, /login and /logout, and the user/token store (`app.state.security`)."""
    config = settings.security
    app.state.security = SecurityStore(state_dir, config)
    app.state.audit = AuditTrail(settings.response.audit_log)
    app.state.login_throttle = AddressThrottle(config.address_limit, config.lockout_minutes * 60)
    _protect_openapi(app)
    app.add_middleware(CsrfMiddleware)  # inner: sees the session the outer middleware decoded
    app.add_middleware(
        SessionMiddleware, secret_key=_session_key(state_dir), session_cookie=config.cookie_name,
        max_age=config.idle_timeout, same_site="strict", https_only=config.cookie_secure,
    )
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(LoginRequired, _login_required)  # type: ignore[arg-type]

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> HTMLResponse:
        return _login_page(request, safe_next(next), None, 200)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=1024)],
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        store: SecurityStore = app.state.security
        trail: AuditTrail = app.state.audit
        source = client_address(request)
        throttle: AddressThrottle = app.state.login_throttle
        if not request.session.get(SESSION_CSRF):  # a form posted from elsewhere (login CSRF)
            return _login_page(request, safe_next(next), "the login form expired; please try again", 403)
        if (wait := throttle.wait(source)) > 0:
            trail.append(username, "login.throttled", f"user:{username}", {}, source=source)
            problem = f"too many failed logins from this address; try again in {max(1, round(wait / 60))} min"
            return _login_page(request, safe_next(next), problem, 429)
        try:
            principal = store.authenticate(username, password)
        except LoginRefused as refused:
            throttle.failed(source)
            if refused.locked:
                trail.append(username, "login.locked", f"user:{username}", {}, source=source)
            else:
                trail.append(username, "login.failed", f"user:{username}", {}, source=source)
            return _login_page(request, safe_next(next), str(refused), 401)
        request.session.clear()  # a fresh id and CSRF token: no session fixation
        request.session[SESSION_ID] = store.open_session(principal.name)
        request.session[SESSION_CSRF] = secrets.token_urlsafe(32)
        trail.append(principal.name, "login", f"user:{principal.name}", {"role": principal.role.value},
                     source=source)
        return RedirectResponse(safe_next(next), status_code=303)

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        store: SecurityStore = app.state.security
        sid = request.session.get(SESSION_ID)
        if sid:
            principal = store.session_principal(str(sid))
            store.close_session(str(sid))
            if principal is not None:
                app.state.audit.append(principal.name, "logout", f"user:{principal.name}", {},
                                       source=client_address(request))
        request.session.clear()
        return RedirectResponse("/login", status_code=303)


class CsrfMiddleware:
    """Refuse a state-changing request made with a session unless it carries the session's CSRF token.

    The token comes in the `X-CSRF-Token` header or the `csrf_token` form field. Requests with a Bearer
    token carry no ambient credential and are exempt; requests with no session are left to the route,
    which answers 401.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE or not scope.get("session"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if headers.get("authorization", "").lower().startswith("bearer "):
            await self.app(scope, receive, send)
            return
        supplied = headers.get(CSRF_HEADER)
        content_type = headers.get("content-type", "")
        if supplied is None and content_type.startswith(("application/x-www-form-urlencoded", "multipart/")):
            body = await _read_body(receive)
            if body is not None:
                receive = _replay(body)
                supplied = await _form_field(scope, body, CSRF_FIELD)
        expected = scope["session"].get(SESSION_CSRF)
        if not expected or not supplied or not hmac.compare_digest(str(expected), supplied):
            refusal = JSONResponse(
                {"detail": f"CSRF token missing or wrong: send the {CSRF_FIELD} form field or the "
                           f"{CSRF_HEADER} header from this session (reload the page)"},
                status_code=403,
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Headers every answer carries: no framing, no MIME sniffing, no referrer to other sites, and a
    content policy under which no script runs at all (the console has none), so markup that slipped
    through escaping still cannot execute."""

    HEADERS = (
        (
            b"content-security-policy",
            b"default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None once it grows past MAX_FORM."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _form_field(scope: Scope, body: bytes, name: str) -> str | None:
    form = await Request(scope, _replay(body)).form()
    try:
        value = form.get(name)
        return value if isinstance(value, str) else None
    finally:
        await form.close()


def _login_required(request: Request, exc: LoginRequired) -> Response:
    """Pages go to the login form; API calls and scripts get 401 with the way to authenticate."""
    wants_page = not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", "")
    if wants_page:
        return RedirectResponse(login_url(exc.next_path), status_code=303)
    return JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def _session_key(state_dir: Path) -> str:
    """The key signing session cookies, made once per state directory (readable by its owner only)."""
    path = state_dir / SESSION_KEY_NAME
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_hex(32))
    return path.read_text().strip()


def _protect_openapi(app: FastAPI) -> None:
    """The OpenAPI document for any role; Swagger UI and ReDoc are dropped (they load from a CDN)."""
    public = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in public]
    if app.openapi_url is None:
        return

    @app.get(app.openapi_url, include_in_schema=False, dependencies=[Depends(allow(*Role))])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())


def _login_page(request: Request, next_path: str, problem: str | None, status: int) -> HTMLResponse:
    token = html.escape(csrf_token(request))
    note = f"<p class='problem' role='alert'>{html.escape(problem)}</p>" if problem else ""
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>登录 Log in · egovops</title>
<style>body{{font-family:sans-serif;max-width:22rem;margin:4rem auto}}label,input,button{{display:block;
width:100%;margin:.3rem 0}}.problem{{color:#b00020}}</style></head>
<body><h1>egovops 登录 <small>Log in</small></h1>{note}
<form method="post" action="/login">
<input type="hidden" name="{CSRF_FIELD}" value="{token}">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label for="username">用户名 User name</label>
<input id="username" name="username" autocomplete="username" required maxlength="64" autofocus>
<label for="password">密码 Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">登录 Log in</button>
</form></body></html>"""
    return HTMLResponse(page, status_code=status)
