"""`egovops compliance`: 等保 2.0 grading — the requirement catalogue and 整改 diffs now; assessments and
reports next."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table

from egovops.cli.common import Exit, JsonOpt, emit_json, err, fail, out, state, user_errors
from secops.compliance.loader import CATALOGUE_DIR, CatalogueError, load_catalogue
from secops.compliance.models import Catalogue, Item

app = typer.Typer(help="等保 2.0 (GB/T 22239-2019) grading (docs/compliance.md).", no_args_is_help=True)

CONTRACT = ("id", "category", "control_point", "text", "level", "responsibility")
"""The fields every catalogue item carries in `--json` output (issue 8); more may follow them."""


@app.callback()
def compliance() -> None:
    """等保 2.0 (GB/T 22239-2019) grading: the requirement catalogue; assessments and reports follow."""


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
    db: Annotated[
        str | None,
        typer.Option("--db", metavar="URL", help="Assessment database (default: beside the event store)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """What changed between two assessments (整改): items fixed, items regressed, new problems."""
    from secops.compliance.diff import IncomparableError, diff
    from secops.compliance.store import AssessmentStore, AssessmentStoreError
    from secops.incidents.cases import cases_url_for

    with user_errors(as_json):
        settings = state(ctx).settings
        url = db or cases_url_for(settings.store.url, settings.incidents)
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
