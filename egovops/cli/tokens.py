"""`egovops tokens …`: API tokens for scripts, each scoped to one role, shown once and stored hashed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from egovops.cli.common import JsonOpt, emit_json, err, out
from egovops.cli.users import RoleOpt, record, security, when

app = typer.Typer(help="API tokens for scripts (Authorization: Bearer TOKEN): create, list, revoke.",
                  no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="What the token is for, e.g. soar-sync.")]


@app.command()
def create(ctx: typer.Context, name: Name, role: RoleOpt, as_json: JsonOpt = False) -> None:
    """Create a token acting with ROLE; it is printed once and cannot be shown again."""
    with security(ctx, as_json) as (store, trail):
        token = store.create_token(name, role)
        record(trail, "token.create", f"token:{name}", {"role": role.value})
    if as_json:
        emit_json({"name": name, "role": role.value, "token": token})
        return
    err.print(f"token {name} ({role.value}); shown once, keep it in a secret store:")
    out.print(token)


@app.command("list")
def list_tokens(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Tokens by name and role, with when they were last used (never the tokens themselves)."""
    with security(ctx, as_json) as (store, _trail):
        tokens = [
            {**asdict(t), "created": when(t.created), "last_used": when(t.last_used)} for t in store.tokens()
        ]
    if as_json:
        emit_json(tokens)
        return
    table = Table("name", "role", "created", "last used", title="API tokens")
    for token in tokens:
        table.add_row(token["name"], token["role"], token["created"], token["last_used"] or "-")
    out.print(table)


@app.command()
def revoke(ctx: typer.Context, name: Name, as_json: JsonOpt = False) -> None:
    """Revoke a token; requests with it get 401 from now on."""
    with security(ctx, as_json) as (store, trail):
        info = store.revoke_token(name)
        record(trail, "token.revoke", f"token:{name}", {"role": info.role.value})
    if as_json:
        emit_json({"name": name, "revoked": True})
    else:
        out.print(f"revoked {name}")
