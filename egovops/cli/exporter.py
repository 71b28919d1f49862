"""`egovops exporter`: serve /metrics on its own (state of the stores, the audit trail, the indicators)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from egovops.cli.common import Exit, JsonOpt, err, fail, state, user_errors
from egovops.estate import EstateError

app = typer.Typer()


@app.command()
def exporter(
    ctx: typer.Context,
    estate: Annotated[
        Path | None, typer.Option("--estate", help="Estate file whose indicators to export.")
    ] = None,
    targets: Annotated[
        Path | None, typer.Option("--targets", help="The city's targets file (overrides the estate's).")
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to bind; keep loopback unless behind a proxy.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve /metrics on.")] = 9464,
    as_json: JsonOpt = False,
) -> None:
    """Serve Prometheus metrics at http://HOST:PORT/metrics until interrupted: events per dataset, dead
    letters, spool, incidents and SLA breaches, response actions, the audit chain, and with --estate every
    indicator of the plans with its target (docs/monitoring.md)."""
    from monitors.exporter import serve_exporter
    from monitors.indicators import IndicatorError

    with user_errors(as_json):
        settings = state(ctx).settings
        if not as_json:
            err.print(f"serving http://{host}:{port}/metrics — Ctrl-C to stop")
        try:
            serve_exporter(settings, host, port, estate=estate, targets=targets)
        except (EstateError, IndicatorError) as exc:
            fail(str(exc), Exit.INPUT, as_json)
