"""`egovops hunt RULE`: run one rule (and what it needs) over stored history."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from egovops.cli.common import (
    Exit,
    JsonOpt,
    StoreOpt,
    emit_json,
    fail,
    open_configured_store,
    out,
    parse_when,
    state,
    user_errors,
)

app = typer.Typer()


@app.command()
def hunt(
    ctx: typer.Context,
    rule: Annotated[str, typer.Argument(help="Rule or correlation id, name or title (`rules list`).")],
    since: Annotated[str | None, typer.Option("--since", help="From: 30d, 12h, or an ISO time.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Up to (exclusive): 1d, or ISO.")] = None,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay stored events through the detection engine and print the alerts RULE raises.

    The same engine and rules as `ingest` and `serve`, so a hunt finds what streaming found (or would
    have, had the rule been loaded then). Nothing is recorded: `egovops ingest` and `serve` do that.
    """
    from secops.detection.engine import EngineOptions
    from secops.detection.hunt import UnknownRuleError
    from secops.detection.hunt import hunt as run_hunt
    from secops.detection.ruleset import BUILTIN_RULES, RuleSet

    with user_errors(as_json):
        settings = state(ctx).settings
        ruleset = RuleSet.load([BUILTIN_RULES, *settings.detection.rules])
        store = open_configured_store(settings, store_url)
        try:
            alerts = run_hunt(
                store, ruleset, rule, parse_when(since), parse_when(until),
                EngineOptions(lateness=settings.detection.lateness),
            )
        except UnknownRuleError as exc:
            fail(str(exc), Exit.USAGE, as_json)
        finally:
            store.close()
    if as_json:
        emit_json([alert.to_dict() for alert in alerts])
        return
    columns = ("first seen", "last seen", "severity", "entity", "events", "id")
    table = Table(*columns, title=f"{rule}: {len(alerts)} alerts")
    for a in alerts:
        entity = ", ".join(f"{k}={v}" for k, v in a.entity.items()) or "-"
        table.add_row(a.first_seen, a.last_seen, a.severity, entity, str(a.count), a.id[:12])
    out.print(table)
