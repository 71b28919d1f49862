"""`egovops estate`: check an estate file before any module acts on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from egovops.cli.common import Exit, JsonOpt, emit_json, fail, out
from egovops.estate import EstateError, load_estate

app = typer.Typer(help="The estate file every module reads (docs/estate.md).", no_args_is_help=True)


@app.callback()
def estate() -> None:
    """The estate file every module reads (docs/estate.md); more commands join `validate` here."""


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="The estate file, e.g. stacks/shanwei/estate.yaml.")],
    as_json: JsonOpt = False,
) -> None:
    """Validate an estate: every problem with its file, line, path, reason and fix; exit 5 if any."""
    try:
        estate = load_estate(path)
    except EstateError as exc:
        if as_json:
            emit_json({"valid": False, "problems": exc.problems})
            raise typer.Exit(int(Exit.INPUT)) from None
        fail(str(exc), Exit.INPUT, as_json)
    summary = {
        "valid": True,
        "name": estate.name,
        "city": estate.city,
        "tenants": len(estate.tenants),
        "systems": sum(len(t.systems) for t in estate.tenants),
        "planes": len(estate.planes),
        "pools": len(estate.cloud.pools),
    }
    if as_json:
        emit_json(summary)
    else:
        out.print(
            f"{path}: valid — {summary['city']}, {summary['tenants']} tenants, "
            f"{summary['systems']} systems, {summary['planes']} planes, {summary['pools']} pools"
        )
