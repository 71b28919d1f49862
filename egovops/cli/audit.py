"""`egovops audit …`: check the SM3 chain of the audit trail and export it with its head.

There is deliberately no command (and no API route) that edits or erases the trail: it is append-only
for every role, the admin included (三权分立).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from egovops.audit import AuditTrail, Verification
from egovops.cli.common import Exit, JsonOpt, emit_json, err, out, state, user_errors

app = typer.Typer(help="The audit trail: verify its SM3 hash chain, export it with the chain head.",
                  no_args_is_help=True)


def _trail(ctx: typer.Context, as_json: bool) -> AuditTrail:
    with user_errors(as_json):
        return AuditTrail(state(ctx).settings.response.audit_log)


def _summary(trail: AuditTrail, checked: Verification) -> dict[str, Any]:
    return {
        "ok": checked.ok,
        "entries": trail.stored(),
        "verified": checked.records,
        "head": checked.head,
        "first_bad": checked.bad_line,
        "reason": checked.reason,
        "file": str(trail.path),
    }


@app.command()
def verify(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Walk the chain: `ok`, how many `entries`, and `first_bad` — the line of the first edited, deleted
    or reordered record (null when intact). Exits 1 when the chain is broken."""
    trail = _trail(ctx, as_json)
    result = _summary(trail, trail.verify())
    if as_json:
        emit_json(result)
    elif result["ok"]:
        out.print(f"audit trail intact: {result['entries']} entries, head {result['head']}")
    else:
        out.print(f"[bold red]audit trail broken[/] at line {result['first_bad']} of {result['file']}: "
                  f"{result['reason']} ({result['verified']} records before it verify)")
    if not result["ok"]:
        raise typer.Exit(int(Exit.PARTIAL))


@app.command()
def export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of standard output.")
    ] = None,
) -> None:
    """Export the trail as one JSON document: the verification (ok, entries, head, first_bad) and every
    record, so the head can be compared with a copy held elsewhere. Exits 1 when the chain is broken."""
    trail = _trail(ctx, False)
    checked = trail.verify()
    document = {**_summary(trail, checked), "records": [r.model_dump() for r in trail.records()]}
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if output is None:
        typer.echo(data.decode(), nl=False)
    else:
        output.write_bytes(data)
        err.print(f"exported {document['entries']} entries to {output}; chain head {checked.head}")
    if not checked.ok:
        raise typer.Exit(int(Exit.PARTIAL))
