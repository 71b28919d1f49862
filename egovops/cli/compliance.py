"""`egovops compliance`: 等保 2.0 grading — the requirement catalogue, 整改 diffs, and 测评 reports of
stored assessments with their verification; assessments next."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.table import Table

from egovops.cli.common import Exit, JsonOpt, emit_json, err, fail, out, state, user_errors
from secops.compliance.loader import CATALOGUE_DIR, CatalogueError, load_catalogue
from secops.compliance.models import Catalogue, Item

if TYPE_CHECKING:
    from secops.compliance.report.model import Report

app = typer.Typer(help="等保 2.0 (GB/T 22239-2019) grading (docs/compliance.md).", no_args_is_help=True)

CONTRACT = ("id", "category", "control_point", "text", "level", "responsibility")
"""The fields every catalogue item carries in `--json` output (issue 8); more may follow them."""


DbOpt = Annotated[
    str | None,
    typer.Option("--db", metavar="URL", help="Assessment database (default: beside the event store)."),
]


@app.callback()
def compliance() -> None:
    """等保 2.0 (GB/T 22239-2019) grading: the requirement catalogue, 整改 diffs, 测评 reports."""


@app.command()
def catalogue(
    level: Annotated[int, typer.Option("--level", min=2, max=3, help="Protection level: 2 or 3.")],
    cloud: Annotated[
        bool, typer.Option("--cloud", help="Add the cloud-computing extension (云计算安全扩展要求).")
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option("--data", metavar="DIR", help="Catalogue directory (default: the one egovops ships)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the requirement items of a level: id, category, control point, how each is assessed and who
    is responsible on a cloud. Exit 5 with file:line:what when a catalogue file is malformed."""
    try:
        items = load_catalogue(level, cloud=cloud, data_dir=data or CATALOGUE_DIR)
    except CatalogueError as exc:
        invalid_data(exc, as_json)
    if as_json:
        emit_json([_row(item) for item in items.items])
        return
    render(items)


@app.command("diff")
def diff_command(
    ctx: typer.Context,
    before: Annotated[str, typer.Argument(help="Id of the earlier assessment.")],
    after: Annotated[str, typer.Argument(help="Id of the later assessment.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What changed between two assessments (整改): items fixed, items regressed, new problems."""
    from secops.compliance.diff import IncomparableError, diff
    from secops.compliance.store import AssessmentStore, AssessmentStoreError

    url = _store_url(ctx, db, as_json)
    try:
        with AssessmentStore(url) as store:
            changes = diff(store.get(before), store.get(after))
    except AssessmentStoreError as exc:
        fail(str(exc), Exit.STORE, as_json)
    except IncomparableError as exc:
        fail(str(exc), Exit.USAGE, as_json)
    if as_json:
        emit_json(changes.model_dump(mode="json"))
        return
    for title, rows in (("fixed", changes.fixed), ("regressed", changes.regressed),
                        ("new problems", changes.new_problems)):
        table = Table("id", "before", "after", "risk before", "risk after", title=f"{title}: {len(rows)}")
        for row in rows:
            table.add_row(row.id, *(str(v) if v else "-" for v in
                                    (row.before, row.after, row.before_risk, row.after_risk)))
        out.print(table)


class ReportFormat(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    JSON = "json"


@app.command("report")
def report_command(
    ctx: typer.Context,
    assessment_id: Annotated[str, typer.Argument(metavar="ID", help="Id of the stored assessment.")],
    fmt: Annotated[ReportFormat, typer.Option("--format", help="pdf, docx, xlsx or json.")],
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE", help="File to write.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the 测评报告 of a stored assessment, stamped with its id and the SM3 digest of its content
    (`compliance verify` checks it). Exit 2 when FILE is a directory or cannot be written."""
    from secops.compliance.report.formats import formats

    if output.is_dir():
        fail(f"{output} is a directory: give a file path (e.g. {output / assessment_id}.{fmt.value})",
             Exit.USAGE, as_json)
    report = _report(ctx, db, as_json)(assessment_id)
    try:
        formats()[fmt.value].write(report, output)
    except OSError as exc:
        fail(f"{output}: cannot write the report: {exc.strerror or exc} (choose a writable path)",
             Exit.USAGE, as_json)
    summary = {"file": str(output), "format": fmt.value, "assessment_id": report.assessment_id,
               "sm3": report.digest(), "score": report.score, "band": report.band}
    if as_json:
        emit_json(summary)
        return
    out.print(f"{output}: {fmt.value} report of {report.assessment_id} ({report.system}, level "
              f"{report.level}): {report.score:.2f} {report.band}; SM3 {summary['sm3']}", markup=False)


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    report_file: Annotated[
        Path, typer.Argument(metavar="REPORT", help="A report `compliance report` wrote.")
    ],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a report (any format) against the stored assessment it names: exit 0 when it matches, 1 when
    its digest or content differs (each difference printed), 4 without that assessment, 5 unreadable."""
    from secops.compliance.report.formats import ReportFileError
    from secops.compliance.report.verify import verify

    try:
        verdict = verify(report_file, _report(ctx, db, as_json))
    except ReportFileError as exc:
        fail(str(exc), Exit.INPUT, as_json)
    if as_json:
        emit_json(verdict.model_dump(mode="json"))
    elif verdict.ok:
        out.print(f"ok: {report_file} is the {verdict.format} report of assessment {verdict.assessment_id} "
                  f"(SM3 {verdict.sm3})", markup=False, soft_wrap=True)
    else:
        err.print(f"mismatch: {report_file} ({verdict.format}, assessment {verdict.assessment_id})",
                  markup=False, soft_wrap=True)
        for problem in verdict.problems:
            err.print(f"  {problem}", markup=False, soft_wrap=True)
    if not verdict.ok:
        raise typer.Exit(int(Exit.PARTIAL))


def _store_url(ctx: typer.Context, db: str | None, as_json: bool) -> str:
    """`--db`, or the case database beside the configured event store."""
    from secops.incidents.cases import cases_url_for

    if db:
        return db
    with user_errors(as_json):
        settings = state(ctx).settings
        return cases_url_for(settings.store.url, settings.incidents)


def _report(ctx: typer.Context, db: str | None, as_json: bool) -> Callable[[str], Report]:
    """Builds the report of a stored assessment, turning every user-facing failure into an exit code."""
    from secops.compliance.report.model import report_for
    from secops.compliance.scoring import ScoringError
    from secops.compliance.store import AssessmentStore, AssessmentStoreError

    url = _store_url(ctx, db, as_json)

    def build(assessment_id: str) -> Report:
        try:
            with AssessmentStore(url) as store:
                return report_for(store.get(assessment_id))
        except AssessmentStoreError as exc:
            fail(str(exc), Exit.STORE, as_json)
        except CatalogueError as exc:
            invalid_data(exc, as_json)
        except ScoringError as exc:
            fail(f"assessment {assessment_id} does not fit the catalogue: {exc}", Exit.INPUT, as_json)

    return build


def invalid_data(exc: CatalogueError, as_json: bool) -> NoReturn:
    """Every problem on its own unbroken line (file:line stays clickable), exit 5."""
    if as_json:
        emit_json({"error": "the catalogue data is invalid", "problems": exc.problems,
                   "exit_code": int(Exit.INPUT)})
    else:
        err.print("[bold red]error:[/] the catalogue data is invalid (docs/compliance.md describes it)")
        for problem in exc.problems:
            err.print(problem, markup=False, soft_wrap=True)
    raise typer.Exit(int(Exit.INPUT))


def _row(item: Item) -> dict[str, Any]:
    """Contract fields first, then clause, part, assessment mode and checks."""
    data = item.model_dump(mode="json")
    return {key: data[key] for key in (*CONTRACT, "clause", "part", "assessment", "checks")}


def render(items: Catalogue) -> None:
    table = Table()
    table.add_column("id", no_wrap=True)
    for name in ("control point", "assessed", "responsibility"):
        table.add_column(name)
    table.add_column("requirement", overflow="fold")
    for item in items.items:
        table.add_row(item.id, f"{item.category}/{item.control_point}", item.assessment.value,
                      item.responsibility.value, item.text)
    out.print(table)
    versions = ", ".join(f"{name} {version}" for name, version in items.versions.items())
    out.print(f"level {items.level}{' + cloud' if items.cloud else ''}: {len(items.items)} items in "
              f"{len(items.control_points())} control points ({versions})")
