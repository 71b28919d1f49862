"""Users, API tokens and sessions of the control plane, in one SQLite file in the state directory.

Passwords are hashed with argon2id; API tokens and session ids are random 256-bit strings stored only as
their SHA-256 (they carry their own entropy, so a slow hash would only slow every request). An account is
locked for a while after repeated failed logins, and a session ends after a spell without requests.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, ForeignKey, String, create_engine, delete, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from egovops.config import SecuritySettings
from egovops.security.roles import Principal, Role

DB_NAME = "security.db"
TOKEN_PREFIX = "egv_"
MIN_PASSWORD = 12
"""Characters a password needs at least (等保 level 3 asks for complexity; length is what counts)."""
TOUCH_EVERY = 5.0
"""Seconds between writes of a session's last request time (fewer writes; idle timeouts are minutes)."""
_WRONG = "wrong user name or password"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


class SecurityError(ValueError):
    """A user or token request that cannot be done as asked; the message says what to do instead."""


class LoginRefused(Exception):  # noqa: N818 — an outcome, not a bug
    """A login that did not succeed; `locked` tells a locked account from a wrong password."""

    def __init__(self, message: str, *, locked: bool) -> None:
        super().__init__(message)
        self.locked = locked


class _Base(DeclarativeBase):
    pass


class UserRow(_Base):
    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[float | None] = mapped_column(default=None)
    created: Mapped[float]


class TokenRow(_Base):
    __tablename__ = "tokens"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[float]
    last_used: Mapped[float | None] = mapped_column(default=None)


class SessionRow(_Base):
    __tablename__ = "sessions"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"), index=True)
    created: Mapped[float]
    last_seen: Mapped[float]


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: Role
    locked: bool
    created: float


@dataclass(frozen=True)
class TokenInfo:
    name: str
    role: Role
    created: float
    last_used: float | None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_name(name: str, what: str) -> str:
    if not re.match(_NAME, name):
        raise SecurityError(f"{name!r}: a {what} name is 1-64 letters, digits, '.', '_', '@' or '-'")
    return name


class SecurityStore:
    """Users, tokens and sessions in `state_dir/security.db` (created on first use)."""

    def __init__(
        self, state_dir: Path, settings: SecuritySettings, clock: Callable[[], float] = time.time,
        hasher: PasswordHasher | None = None,
    ) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / DB_NAME
        self.path.touch(mode=0o600)  # before SQLite opens it: its -wal and -shm files take its mode
        self.path.chmod(0o600)
        self.settings = settings
        self.clock = clock
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self.engine = _sqlite_engine(self.path)
        _Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._session.begin() as session:
            yield session

    # users

    def add_user(self, name: str, role: Role, password: str) -> UserInfo:
        check_name(name, "user")
        _check_password(password)
        with self._tx() as tx:
            if tx.get(UserRow, name) is not None:
                raise SecurityError(f"user {name!r} exists; `egovops users passwd {name}` sets a password")
            row = UserRow(name=name, role=role.value, password_hash=self.hasher.hash(password),
                          failures=0, created=self.clock())
            tx.add(row)
            return _user_info(row, self.clock())

    def set_password(self, name: str, password: str) -> None:
        """A new password; it also unlocks the account and ends the user's sessions."""
        _check_password(password)
        with self._tx() as tx:
            row = self._user(tx, name)
            row.password_hash, row.failures, row.locked_until = self.hasher.hash(password), 0, None
            tx.execute(delete(SessionRow).where(SessionRow.user == name))

    def remove_user(self, name: str) -> UserInfo:
        with self._tx() as tx:
            row = self._user(tx, name)
            info = _user_info(row, self.clock())
            tx.execute(delete(SessionRow).where(SessionRow.user == name))
            tx.delete(row)
            return info

    def users(self) -> list[UserInfo]:
        now = self.clock()
        with self._tx() as tx:
            return [_user_info(row, now) for row in tx.scalars(select(UserRow).order_by(UserRow.name))]

    def user(self, name: str) -> UserInfo:
        with self._tx() as tx:
            return _user_info(self._user(tx, name), self.clock())

    def authenticate(self, name: str, password: str) -> Principal:
        """The user's principal if the password fits and the account is not locked; else LoginRefused.

        The message never says whether the user exists; unknown names cost one hash like known ones.
        """
        now = self.clock()
        with self._tx() as tx:
            row = tx.get(UserRow, name)
            if row is None:
                _verify(self.hasher, self._dummy_hash, password)
                outcome: Principal | LoginRefused = LoginRefused(_WRONG, locked=False)
            elif row.locked_until is not None and row.locked_until > now:
                outcome = LoginRefused(_locked_message(row.locked_until - now), locked=True)
            elif not _verify(self.hasher, row.password_hash, password):
                row.failures += 1
                outcome = LoginRefused(_WRONG, locked=False)
                if row.failures >= self.settings.lockout_threshold:
                    row.failures, row.locked_until = 0, now + self.settings.lockout_minutes * 60
                    outcome = LoginRefused(_locked_message(self.settings.lockout_minutes * 60), locked=True)
            else:
                row.failures, row.locked_until = 0, None
                if self.hasher.check_needs_rehash(row.password_hash):
                    row.password_hash = self.hasher.hash(password)
                outcome = Principal(name=row.name, role=Role(row.role), via="session")
        if isinstance(outcome, LoginRefused):
            raise outcome
        return outcome

    def _user(self, tx: Session, name: str) -> UserRow:
        row = tx.get(UserRow, name)
        if row is None:
            raise SecurityError(f"no user {name!r}; `egovops users list` shows them")
        return row

    # sessions

    def open_session(self, name: str) -> str:
        """A new session id for the user (the cookie carries it; the database keeps only its digest).
        Sessions that went idle are cleared out on the way."""
        sid = secrets.token_urlsafe(32)
        now = self.clock()
        with self._tx() as tx:
            tx.execute(delete(SessionRow).where(SessionRow.last_seen < now - self.settings.idle_timeout))
            tx.add(SessionRow(digest=digest(sid), user=name, created=now, last_seen=now))
        return sid

    def session_principal(self, sid: str) -> Principal | None:
        """Who the session belongs to, or None if it ended (logout, idle timeout, user removed)."""
        now = self.clock()
        with self._tx() as tx:
            row = tx.get(SessionRow, digest(sid))
            if row is None:
                return None
            if now - row.last_seen > self.settings.idle_timeout:
                tx.delete(row)
                return None
            user = tx.get(UserRow, row.user)
            if user is None:
                return None
            if now - row.last_seen > TOUCH_EVERY:
                row.last_seen = now
            return Principal(name=user.name, role=Role(user.role), via="session")

    def close_session(self, sid: str) -> None:
        with self._tx() as tx:
            tx.execute(delete(SessionRow).where(SessionRow.digest == digest(sid)))

    # tokens

    def create_token(self, name: str, role: Role) -> str:
        """A new API token; the caller shows it once, the store keeps only its digest."""
        check_name(name, "token")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._tx() as tx:
            if tx.get(TokenRow, name) is not None:
                raise SecurityError(f"token {name!r} exists; revoke it first or choose another name")
            tx.add(TokenRow(name=name, role=role.value, digest=digest(token), created=self.clock()))
        return token

    def revoke_token(self, name: str) -> TokenInfo:
        with self._tx() as tx:
            row = tx.get(TokenRow, name)
            if row is None:
                raise SecurityError(f"no token {name!r}; `egovops tokens list` shows them")
            tx.delete(row)
            return _token_info(row)

    def tokens(self) -> list[TokenInfo]:
        with self._tx() as tx:
            return [_token_info(row) for row in tx.scalars(select(TokenRow).order_by(TokenRow.name))]

    def token_principal(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        now = self.clock()
        with self._tx() as tx:
            row = tx.scalars(select(TokenRow).where(TokenRow.digest == digest(token))).first()
            if row is None:
                return None
            if row.last_used is None or now - row.last_used > TOUCH_EVERY:
                row.last_used = now
            return Principal(name=row.name, role=Role(row.role), via="token")


def _sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=30000")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA journal_mode=WAL")  # readers (every request) never wait on a write
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    return engine


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise SecurityError(f"a password needs at least {MIN_PASSWORD} characters")


def _verify(hasher: PasswordHasher, hashed: str, password: str) -> bool:
    try:
        return hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _locked_message(seconds: float) -> str:
    return f"account locked after repeated failed logins; try again in {max(1, round(seconds / 60))} min"


def _user_info(row: UserRow, now: float) -> UserInfo:
    locked = row.locked_until is not None and row.locked_until > now
    return UserInfo(name=row.name, role=Role(row.role), locked=locked, created=row.created)


def _token_info(row: TokenRow) -> TokenInfo:
    return TokenInfo(name=row.name, role=Role(row.role), created=row.created, last_used=row.last_used)
