"""`egovops secrets …`: device passwords, cloud credentials and API keys sealed with SM4-GCM.

Values go in through standard input only and never come out of the command line: `list` shows names
and dates. The key is EGOVOPS_SECRET_KEY (32 hex digits) or the `[security] key_file`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from egovops.audit import AuditTrail
from egovops.cli.common import Exit, JsonOpt, emit_json, fail, out, state, user_errors
from egovops.cli.users import record
from egovops.security.sealed import KEY_ENV, SecretBox, SecretsError, load_key, rotate_key
from egovops.security.store import SecurityError, check_name

app = typer.Typer(help="Sealed secrets (SM4-GCM): set from stdin, list names, rotate the key.",
                  no_args_is_help=True)


@contextmanager
def sealed(
    ctx: typer.Context, as_json: bool, *, create_key: bool = False
) -> Iterator[tuple[SecretBox, AuditTrail]]:
    """The sealed file under the configured key; key and file problems exit 3, bad names 2."""
    with user_errors(as_json):
        settings = state(ctx).settings
        try:
            key = load_key(settings.security.key_file, create=create_key)
            yield SecretBox(settings.security.secrets_file, key), AuditTrail(settings.response.audit_log)
        except SecretsError as exc:
            fail(str(exc), Exit.CONFIG, as_json)
        except SecurityError as exc:
            fail(str(exc), Exit.USAGE, as_json)


@app.command("set")
def set_secret(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The secret's name, e.g. router-r1 or cloud-admin.")],
    as_json: JsonOpt = False,
) -> None:
    """Seal the value read from standard input under NAME (replacing an older value).

    Example: printf '%s' "$PASSWORD" | egovops secrets set router-r1
    """
    with sealed(ctx, as_json, create_key=True) as (box, trail):
        check_name(name, "secret")
        value = sys.stdin.read().removesuffix("\n")
        if not value:
            raise SecurityError("no value on standard input; pipe it in: printf '%s' \"$PW\" | egovops …")
        box.seal(name, value)
        record(trail, "secret.set", f"secret:{name}", {})
    if as_json:
        emit_json({"name": name, "sealed": True})
    else:
        out.print(f"sealed {name} in {box.path}")


@app.command("list")
def list_secrets(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The secrets' names and when each was last set; never their values."""
    with sealed(ctx, as_json) as (box, _trail):
        names = [asdict(info) for info in box.names()]
    if as_json:
        emit_json(names)
        return
    table = Table("name", "updated", title=f"sealed secrets ({box.path})")
    for info in names:
        table.add_row(info["name"], info["updated"])
    out.print(table)


@app.command()
def rotate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Re-seal every secret under a new random key written to the key file."""
    with sealed(ctx, as_json) as (box, trail):
        settings = state(ctx).settings
        from_env = box.key.origin == KEY_ENV
        count = rotate_key(box, settings.security.key_file)
        record(trail, "secret.rotate", f"key:{box.key.key_id}", {"secrets": count})
    result = {"rotated": count, "key_file": str(settings.security.key_file), "key_id": box.key.key_id}
    if as_json:
        emit_json({**result, "env_key_stale": from_env})
        return
    out.print(f"re-sealed {count} secrets under the new key in {settings.security.key_file}")
    if from_env:
        out.print(f"{KEY_ENV} still holds the old key: unset it, or set it to the new key file's content")
