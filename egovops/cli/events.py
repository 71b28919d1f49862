"""`egovops events …`: search, export, statistics, dead letters and retention of stored events."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from egovops.cli.common import (
    JsonOpt,
    StoreOpt,
    emit_json,
    open_configured_store,
    out,
    parse_fields,
    parse_when,
    state,
    user_errors,
)
from secops.events import get
from secops.store import Query, Retention

app = typer.Typer(
    help="Search, export, count and prune stored events; list rejected input.", no_args_is_help=True
)

SinceOpt = Annotated[str | None, typer.Option("--since", help="30d, 12h, 15m, or an ISO time.")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="30d, 12h, 15m, or an ISO time.")]
FieldOpt = Annotated[
    list[str] | None, typer.Option("--field", help="NAME=VALUE on a dotted ECS field; repeatable.")
]
DatasetOpt = Annotated[
    list[str] | None, typer.Option("--dataset", help="Only this event.dataset; repeatable.")
]


def build_query(
    text: str, since: str | None, until: str | None, fields: list[str] | None,
    datasets: list[str] | None, limit: int | None,
) -> Query:
    return Query(
        text=text,
        fields=parse_fields(fields or []),
        since=parse_when(since),
        until=parse_when(until),
        datasets=tuple(datasets or ()),
        limit=limit,
    )


@app.command()
def search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Words that must all occur in the raw record or message.")] = "",
    since: SinceOpt = None,
    until: UntilOpt = None,
    field: FieldOpt = None,
    dataset: DatasetOpt = None,
    limit: Annotated[int, typer.Option(help="Most events to show, newest first.")] = 50,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find events by words, fields and time, newest first.

    Example: egovops events search "Failed password" --since 1d --field source.ip=203.0.113.9
    """
    query = build_query(text, since, until, field, dataset, limit)
    with user_errors(as_json):
        store = open_configured_store(state(ctx).settings, store_url)
        try:
            docs = store.search(query)
            total = store.count(query)
        finally:
            store.close()
    if as_json:
        emit_json({"total": total, "events": docs})
        return
    table = Table("@timestamp", "dataset", "action", "source", "summary", title=f"{total} events")
    for doc in docs:
        source = get(doc, "source.ip") or get(doc, "host.hostname") or ""
        summary = get(doc, "message") or get(doc, "event.original") or ""
        table.add_row(
            str(doc.get("@timestamp", "")), str(get(doc, "event.dataset", "")),
            str(get(doc, "event.action") or ""), str(source), str(summary)[:120],
        )
    out.print(table)


@app.command()
def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="ndjson: one ECS document per line.")] = "ndjson",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default: stdout).")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    field: FieldOpt = None,
    dataset: DatasetOpt = None,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write stored events, oldest first, one ECS JSON document per line (dotted names nested)."""
    if fmt != "ndjson":
        raise typer.BadParameter(f"{fmt!r}: the export format is ndjson", param_hint="--format")
    query = build_query("", since, until, field, dataset, None)
    written = 0
    with user_errors(as_json):
        store = open_configured_store(state(ctx).settings, store_url)
        sink = output.open("wb") if output else sys.stdout.buffer
        try:
            for doc in store.export(query):
                sink.write(orjson.dumps(doc) + b"\n")
                written += 1
        finally:
            store.close()
            if output:
                sink.close()
            else:
                sink.flush()
    if output is not None:
        if as_json:
            emit_json({"exported": written, "output": str(output)})
        else:
            out.print(f"{written} events written to {output}")


@app.command()
def stats(ctx: typer.Context, store_url: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Event counts per dataset and per day, dead letters, and the Elasticsearch spool."""
    with user_errors(as_json):
        store = open_configured_store(state(ctx).settings, store_url)
        try:
            figures = store.stats()
        finally:
            store.close()
    data = {
        "total": figures.total,
        "per_dataset": figures.per_dataset,
        "per_day": figures.per_day,
        "dead_letters": figures.dead_letters,
        "spool": {
            "events": figures.spool_events, "bytes": figures.spool_bytes, "oldest": figures.spool_oldest,
        },
    }
    if as_json:
        emit_json(data)
        return
    datasets = sorted(figures.per_dataset)
    table = Table("day", *datasets, "total", title=f"{figures.total} events")
    for day, counts in sorted(figures.per_day.items()):
        table.add_row(day, *(str(counts.get(d, 0)) for d in datasets), str(sum(counts.values())))
    table.add_row("all", *(str(figures.per_dataset[d]) for d in datasets), str(figures.total), style="bold")
    out.print(table)
    out.print(f"dead letters: {figures.dead_letters}")
    if figures.spool_events:
        out.print(f"spooled for Elasticsearch: {figures.spool_events} events, {figures.spool_bytes} bytes")


@app.command()
def rejected(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Most records to list, newest first.")] = 50,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Input that could not be parsed: where it came from (file, offset), why, and its bytes."""
    with user_errors(as_json):
        store = open_configured_store(state(ctx).settings, store_url)
        try:
            letters = store.dead_letters(limit)
        finally:
            store.close()
    rows: list[dict[str, str | int]] = [
        {
            "id": d.id, "source": d.source, "offset": d.offset, "format": d.format, "reason": d.reason,
            "raw": d.raw.decode("utf-8", "backslashreplace"), "received": d.received,
        }
        for d in letters
    ]
    if as_json:
        emit_json(rows)
        return
    table = Table("source", "offset", "format", "reason", "raw")
    for row in rows:
        table.add_row(*(str(row[k]) for k in ("source", "offset", "format", "reason")), str(row["raw"])[:80])
    out.print(table)


@app.command()
def prune(
    ctx: typer.Context,
    days: Annotated[
        int | None, typer.Option(help="Override the default retention (days); at least 180 is the law.")
    ] = None,
    store_url: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete events older than their dataset's retention (default 180 days, per dataset in config)."""
    with user_errors(as_json):
        settings = state(ctx).settings
        policy = Retention(
            default_days=days or settings.retention.default_days, datasets=dict(settings.retention.datasets)
        )
        store = open_configured_store(settings, store_url)
        try:
            deleted = store.prune(policy)
        finally:
            store.close()
    if as_json:
        emit_json({"deleted": deleted, "total": sum(deleted.values())})
        return
    out.print(f"deleted {sum(deleted.values())} events " + ", ".join(f"{k}: {v}" for k, v in deleted.items()))
