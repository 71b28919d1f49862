"""`egovops users …`: the console's local accounts (argon2id passwords, one role each: 三权分立).

Passwords are read from standard input (`--password-stdin`) or typed at a hidden prompt, never taken as
an argument (it would land in the shell history and the process list). Every change goes to the audit
trail.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from egovops.audit import AuditTrail
from egovops.cli.common import Exit, JsonOpt, emit_json, fail, out, state, user_errors
from egovops.security.roles import Role
from egovops.security.store import SecurityError, SecurityStore

app = typer.Typer(help="Console users: add, list, passwd, remove (roles: admin, analyst, auditor).",
                  no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -).")]
RoleOpt = Annotated[Role, typer.Option("--role", help="admin, analyst or auditor.", case_sensitive=False)]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
]


@contextmanager
def security(ctx: typer.Context, as_json: bool) -> Iterator[tuple[SecurityStore, AuditTrail]]:
    """The user/token store and the audit trail as configured; refused requests exit 2."""
    with user_errors(as_json):
        settings = state(ctx).settings
        store = SecurityStore(settings.security.state_dir, settings.security)
        try:
            yield store, AuditTrail(settings.response.audit_log)
        except SecurityError as exc:
            fail(str(exc), Exit.USAGE, as_json)
        finally:
            store.close()


def record(trail: AuditTrail, action: str, target: str, detail: dict[str, Any]) -> None:
    """A change made at this machine's command line: the login name is who, `cli` is where from."""
    trail.append(getpass.getuser(), action, target, detail, source="cli")


def when(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SecurityError("the two passwords differ; nothing changed")
    return first


@app.command()
def add(
    ctx: typer.Context, name: Name, role: RoleOpt, password_stdin: PasswordStdin = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a user with a role.

    Example: printf '%s\\n' "$PW" | egovops users add li --role analyst --password-stdin
    """
    with security(ctx, as_json) as (store, trail):
        info = store.add_user(name, role, read_password(password_stdin))
        record(trail, "user.add", f"user:{name}", {"role": role.value})
    _show({**asdict(info), "created": when(info.created)}, as_json, f"added {name} ({role.value})")


@app.command("list")
def list_users(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Users with their role and whether they are locked out."""
    with security(ctx, as_json) as (store, _trail):
        users = [{**asdict(u), "created": when(u.created)} for u in store.users()]
    if as_json:
        emit_json(users)
        return
    table = Table("name", "role", "locked", "created", title="users")
    for user in users:
        table.add_row(user["name"], user["role"], "yes" if user["locked"] else "", user["created"])
    out.print(table)


@app.command()
def passwd(
    ctx: typer.Context, name: Name, password_stdin: PasswordStdin = False, as_json: JsonOpt = False
) -> None:
    """Set a user's password; this also unlocks the account and ends its sessions."""
    with security(ctx, as_json) as (store, trail):
        store.set_password(name, read_password(password_stdin))
        record(trail, "user.passwd", f"user:{name}", {})
    _show({"name": name, "password": "changed"}, as_json, f"password of {name} changed; sessions ended")


@app.command()
def remove(ctx: typer.Context, name: Name, as_json: JsonOpt = False) -> None:
    """Remove a user; their sessions end at once."""
    with security(ctx, as_json) as (store, trail):
        info = store.remove_user(name)
        record(trail, "user.remove", f"user:{name}", {"role": info.role.value})
    _show({"name": name, "removed": True}, as_json, f"removed {name}")


def _show(result: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        emit_json(result)
    else:
        out.print(line)
