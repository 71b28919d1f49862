"""Logging in and staying logged in, against the real uvicorn: cookie flags, lockout, idle timeout,
CSRF, logout, and API tokens shown once and stored hashed."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator

import pytest
import requests

from egovops.security.deps import CSRF_FIELD, CSRF_HEADER
from egovops.security.roles import Role
from egovops.security.store import DB_NAME
from egovops.security.throttle import AddressThrottle
from tests.security.conftest import PASSWORD, Plane, csrf_of, log_in


@pytest.fixture
def analyst(plane: Plane) -> Iterator[str]:
    """A user of its own, so locking or timing it out leaves the other tests' users alone."""
    name = "lockme"
    plane.users.add_user(name, Role.ANALYST, PASSWORD)
    yield name
    plane.users.remove_user(name)


def try_login(plane: Plane, session: requests.Session, name: str, password: str) -> requests.Response:
    data = {
        "username": name,
        "password": password,
        CSRF_FIELD: csrf_of(session, plane.url),
        "next": "/api/stats",
    }
    return session.post(f"{plane.url}/login", data=data, allow_redirects=False, timeout=30)


def test_login_sets_a_signed_httponly_samesite_strict_cookie(plane: Plane) -> None:
    session = requests.Session()
    answer = try_login(plane, session, "analyst", PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/api/stats"
    cookie = answer.headers["set-cookie"]
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith("egovops_session=")
    assert {"httponly", "samesite", "path", "max-age"} <= flags
    assert "samesite=strict" in cookie.lower()
    assert "max-age=3600" in cookie.lower()  # the idle timeout, renewed with every answer
    assert session.get(f"{plane.url}/api/stats", timeout=30).status_code == 200
    tampered = requests.Session()
    value = str(session.cookies["egovops_session"])
    tampered.cookies.set("egovops_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert tampered.get(f"{plane.url}/api/stats", timeout=30).status_code == 401


def test_every_answer_forbids_scripts_and_framing(plane: Plane) -> None:
    for answer in (requests.get(f"{plane.url}/login", timeout=30), requests.get(f"{plane.url}/", timeout=30)):
        header = answer.headers["content-security-policy"]
        policy = dict(part.strip().split(" ", 1) for part in header.split(";"))
        assert policy["default-src"] == "'none'" and "script-src" not in policy  # so no script runs at all
        assert policy["frame-ancestors"] == "'none'" and answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_login_rotates_the_session_and_refuses_a_foreign_next(plane: Plane) -> None:
    session = requests.Session()
    before = csrf_of(session, plane.url)
    data = {"username": "auditor", "password": PASSWORD, CSRF_FIELD: before, "next": "https://evil.example/"}
    answer = session.post(f"{plane.url}/login", data=data, allow_redirects=False, timeout=30)
    assert answer.headers["location"] == "/"
    assert csrf_of(session, plane.url) != before  # no session fixation: a new CSRF token (and session id)


def test_lockout_after_repeated_failures_even_for_the_right_password(plane: Plane, analyst: str) -> None:
    session = requests.Session()
    answers = [try_login(plane, session, analyst, "wrong password!!").status_code for _ in range(3)]
    assert answers == [401, 401, 401]
    refused = try_login(plane, session, analyst, PASSWORD)
    assert refused.status_code == 401
    assert "locked" in refused.text
    assert plane.users.user(analyst).locked
    trail = [r for r in plane.app.state.audit.records() if r.target == f"user:{analyst}"]
    assert [r.action for r in trail][-4:] == ["login.failed", "login.failed", "login.locked", "login.locked"]
    assert trail[-1].detail["source"] == "127.0.0.1"
    clock = plane.users.clock
    plane.users.clock = lambda: clock() + 11 * 60  # the 10-minute lock has passed
    try:
        assert try_login(plane, session, analyst, PASSWORD).status_code == 303
    finally:
        plane.users.clock = clock


def test_unknown_user_and_wrong_password_read_the_same(plane: Plane) -> None:
    session = requests.Session()
    unknown = try_login(plane, session, "nobody-here", "whatever12345")
    wrong = try_login(plane, session, "admin", "whatever12345")
    assert unknown.status_code == wrong.status_code == 401
    assert "wrong user name or password" in unknown.text and "wrong user name or password" in wrong.text


def test_idle_session_ends(plane: Plane, analyst: str) -> None:
    session = log_in(plane.url, analyst)
    assert session.get(f"{plane.url}/api/stats", timeout=30).status_code == 200
    clock = plane.users.clock
    plane.users.clock = lambda: clock() + 3601
    try:
        assert session.get(f"{plane.url}/api/stats", timeout=30).status_code == 401
    finally:
        plane.users.clock = clock
    assert session.get(f"{plane.url}/api/stats", timeout=30).status_code == 401  # ended, not paused


def test_logout_ends_the_session_even_for_a_copied_cookie(plane: Plane, analyst: str) -> None:
    session = log_in(plane.url, analyst)
    copy = requests.Session()
    copy.cookies.update(session.cookies)
    token = csrf_of(session, plane.url)
    answer = session.post(f"{plane.url}/logout", data={CSRF_FIELD: token}, allow_redirects=False, timeout=30)
    assert answer.status_code == 303
    assert copy.get(f"{plane.url}/api/stats", timeout=30).status_code == 401


def test_csrf_refused_without_the_token_and_accepted_with_it(
    plane: Plane, sessions: dict[Role, requests.Session]
) -> None:
    session = sessions[Role.ANALYST]
    url = f"{plane.url}/api/incidents/1/notes"
    missing = session.post(url, json={"text": "csrf probe"}, timeout=30)
    wrong = session.post(url, json={"text": "csrf probe"}, headers={CSRF_HEADER: "forged"}, timeout=30)
    assert missing.status_code == wrong.status_code == 403
    assert "CSRF" in missing.json()["detail"]
    token = csrf_of(session, plane.url)
    assert (
        session.post(url, json={"text": "csrf ok"}, headers={CSRF_HEADER: token}, timeout=30).status_code
        == 200
    )
    form = session.post(f"{plane.url}/logout", data={CSRF_FIELD: "forged"}, allow_redirects=False, timeout=30)
    assert form.status_code == 403  # the form field is checked too (and this session survives)
    assert session.get(f"{plane.url}/api/stats", timeout=30).status_code == 200


def test_bearer_requests_need_no_csrf_token(plane: Plane) -> None:
    headers = {"Authorization": f"Bearer {plane.tokens[Role.ANALYST]}"}
    answer = requests.post(
        f"{plane.url}/api/incidents/1/notes", json={"text": "by script"}, headers=headers, timeout=30
    )
    assert answer.status_code == 200
    assert answer.json()["notes"][-1]["text"] == "by script"
    bad = requests.get(
        f"{plane.url}/api/stats", headers={"Authorization": "Bearer egv_not-a-token"}, timeout=30
    )
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == "Bearer"


def test_tokens_are_shown_once_and_stored_hashed(plane: Plane) -> None:
    token = plane.users.create_token("hash-check", Role.AUDITOR)
    try:
        listed = {t.name: t for t in plane.users.tokens()}["hash-check"]
        assert not hasattr(listed, "token") and token not in repr(listed)
        database = (plane.settings.security.state_dir / DB_NAME).read_bytes()
        assert token.encode() not in database
        with sqlite3.connect(plane.settings.security.state_dir / DB_NAME) as db:
            (stored,) = db.execute("select digest from tokens where name = 'hash-check'").fetchone()
        assert stored == hashlib.sha256(token.encode()).hexdigest()
        assert (
            requests.get(
                f"{plane.url}/api/audit/verify", headers={"Authorization": f"Bearer {token}"}, timeout=30
            ).status_code
            == 200
        )
    finally:
        plane.users.revoke_token("hash-check")
    assert (
        requests.get(
            f"{plane.url}/api/audit/verify", headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).status_code
        == 401
    )


def test_passwords_are_stored_as_argon2id(plane: Plane) -> None:
    with sqlite3.connect(plane.settings.security.state_dir / DB_NAME) as db:
        hashes = [h for (h,) in db.execute("select password_hash from users")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert all(PASSWORD not in h for h in hashes)


def test_the_security_files_are_private(plane: Plane) -> None:
    state = plane.settings.security.state_dir
    private = sorted(p.name for p in state.iterdir() if p.name.startswith(("security.db", "session.key")))
    assert {"security.db", "session.key"} <= set(private)
    assert {p: oct((state / p).stat().st_mode & 0o777) for p in private} == {p: "0o600" for p in private}


def test_a_login_form_posted_from_elsewhere_is_refused(plane: Plane) -> None:
    """Without the session the login page started, a posted login (login CSRF) does not log anyone in."""
    browser = requests.Session()
    answer = browser.post(
        f"{plane.url}/login",
        data={"username": "analyst", "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 403
    assert "the login form expired" in answer.text
    assert browser.get(f"{plane.url}/api/stats", timeout=30).status_code == 401


def test_one_address_spraying_many_users_is_made_to_wait(plane: Plane) -> None:
    usual = plane.app.state.login_throttle
    plane.app.state.login_throttle = AddressThrottle(limit=2, window=600)
    session = requests.Session()
    try:
        sprayed = [try_login(plane, session, name, "Winter2026!").status_code for name in ("ops", "root")]
        refused = try_login(plane, session, "admin", PASSWORD)  # even the right password must wait
    finally:
        plane.app.state.login_throttle = usual

    assert sprayed == [401, 401]
    assert refused.status_code == 429 and "too many failed logins from this address" in refused.text
    last = list(plane.app.state.audit.records())[-1]
    assert (last.action, last.target, last.detail["source"]) == ("login.throttled", "user:admin", "127.0.0.1")
    assert not plane.users.user("admin").locked  # the accounts themselves were not locked by it


def test_the_throttle_forgets_failures_older_than_its_window() -> None:
    now = [1000.0]
    throttle = AddressThrottle(limit=2, window=60, clock=lambda: now[0])
    throttle.failed("192.0.2.7")
    now[0] += 30
    throttle.failed("192.0.2.7")

    assert throttle.wait("192.0.2.7") == 30  # the first failure leaves the window in 30 s
    assert throttle.wait("198.51.100.9") == 0  # other addresses are not affected
    now[0] += 30
    assert throttle.wait("192.0.2.7") == 0
    now[0] += 60
    assert throttle.wait("192.0.2.7") == 0 and len(throttle) == 0  # quiet addresses are forgotten
