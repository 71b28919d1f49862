"""`egovops bulletin`: the monthly bulletin (月度通报) as a Chinese PDF and XLSX."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from egovops.cli.common import (
    Exit,
    JsonOpt,
    StoreOpt,
    emit_json,
    fail,
    open_configured_store,
    out,
    state,
    user_errors,
)
from egovops.estate import EstateError

app = typer.Typer()


@app.command()
def bulletin(
    ctx: typer.Context,
    month: Annotated[str, typer.Option("--month", help="The month to report, YYYY-MM (e.g. 2026-10).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory to write the PDF and XLSX into.")],
    estate: Annotated[
        Path | None, typer.Option("--estate", help="The estate file (default: [serve] estate of the config).")
    ] = None,
    targets: Annotated[
        Path | None, typer.Option("--targets", help="The city's targets file (overrides the estate's).")
    ] = None,
    metering: Annotated[
        Path | None,
        typer.Option("--metering", help="Each department's use (default: metering.yaml beside the estate)."),
    ] = None,
    history: Annotated[
        Path, typer.Option("--history", help="Indicator snapshots (`egovops indicators --record`).")
    ] = Path("var/indicators.jsonl"),
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write 月度通报-YYYY-MM.pdf and .xlsx: indicators against targets with their trend, the departments
    ranked by cloud utilisation (考核), the month's security figures (sources blocked, warnings issued,
    vulnerabilities fixed, webshells found, attacks blocked, incidents by state), drills, and 等保
    assessments done and due. Exit 2 on a bad --month, 5 on a bad estate, targets or metering file."""
    from monitors.bulletin.files import summary, write_bulletin
    from monitors.bulletin.gather import gather
    from monitors.bulletin.period import BulletinError, Month
    from monitors.indicators import IndicatorError
    from secops.compliance.store import AssessmentStore, AssessmentStoreError
    from secops.incidents.cases import cases_url_for, open_cases

    try:
        period = Month.parse(month)
    except BulletinError as exc:
        fail(str(exc), Exit.USAGE, as_json)
    with user_errors(as_json):
        settings = state(ctx).settings
        events = open_configured_store(settings, store)
        cases_url = cases_url_for(events.url, settings.incidents)
        try:
            with (
                open_cases(events.url, settings=settings.incidents) as cases,
                AssessmentStore(cases_url) as found,
            ):
                made = gather(
                    period, store=events, cases=cases, assessments=found,
                    estate_path=estate or settings.serve.estate, targets_path=targets, history=history,
                    metering=metering, drills=settings.drills.history,
                )  # fmt: skip
        except (EstateError, IndicatorError) as exc:
            fail(str(exc), Exit.INPUT, as_json)
        except AssessmentStoreError as exc:
            fail(str(exc), Exit.STORE, as_json)
        finally:
            events.close()
        files = write_bulletin(made, output)
    if as_json:
        emit_json({"month": str(period), "files": files, "sections": summary(made)})
        return
    for file in files:
        out.print(f"{file['path']}  {file['bytes']:,} bytes  sm3 {file['sm3']}")
