"""`egovops indicators`: the plans' indicators for an estate, against their targets, with the trend."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from egovops.cli.common import Exit, JsonOpt, emit_json, fail, out
from egovops.estate import EstateError

if TYPE_CHECKING:
    from monitors.indicators import Reading

app = typer.Typer()


def shown(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:.1%}" if unit == "ratio" else f"{value:,.0f} {unit}"


def trend(reading: Reading, before: dict[str, float]) -> str:
    old = before.get(reading.key)
    if reading.value is None or old is None:
        return "—"
    change = reading.value - old
    arrow = "↑" if change > 0 else "↓" if change < 0 else "→"
    amount = f"{change:+.1%}" if reading.unit == "ratio" else f"{change:+,.0f}"
    return f"{arrow} {amount}"


@app.command()
def indicators(
    estate: Annotated[
        Path, typer.Option("--estate", help="The estate file, e.g. stacks/shanwei/estate.yaml.")
    ],
    targets: Annotated[
        Path | None, typer.Option("--targets", help="The city's targets file (overrides the estate's).")
    ] = None,
    history: Annotated[
        Path, typer.Option("--history", help="Snapshots the trend is computed from (JSON Lines).")
    ] = Path("var/indicators.jsonl"),
    record: Annotated[bool, typer.Option("--record", help="Append today's values to --history.")] = False,
    every: Annotated[
        bool, typer.Option("--all", help="Also list each county and department, not only the city.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Each indicator of the plans (政务外网接入率, 算力规模, actual use, 上云率, bandwidth floors, IPv6,
    密评 …) with its value, target, gap and trend since the last recorded snapshot; exit 5 on a bad estate."""
    from monitors.indicators import IndicatorError, load_figures, read_history, record_history

    try:
        _estate, figures = load_figures(estate, targets)
    except (EstateError, IndicatorError) as exc:
        fail(str(exc), Exit.INPUT, as_json)
    readings = [r for r in figures.readings if every or not (r.county or r.department)]
    before = read_history(history)
    if record:
        record_history(history, figures.readings, date.today())
    if as_json:
        emit_json([r.as_dict() | {"trend": trend(r, before)} for r in readings])
        return
    table = Table("indicator", "name", "where", "value", "target", "gap", "trend", "source")
    for r in readings:
        target = shown(r.target, r.unit) + (" (province)" if r.target_scope == "province" else "")
        gap = "—" if r.gap is None else (f"{r.gap:+.1%}" if r.unit == "ratio" else f"{r.gap:+,.0f}")
        table.add_row(
            r.id,
            r.name,
            r.county or r.department or "city",
            shown(r.value, r.unit),
            target,
            gap,
            trend(r, before),
            r.note or r.target_source or r.source,
        )
    out.print(table)
